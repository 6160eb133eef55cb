"""The one edge for outbound HTTP that is not HubSpot's API: alerts, lifecycle webhooks and the sandbox probe.

HubSpot's own calls go through :mod:`dashboard.hubspot.client`; everything else that leaves the process
comes here, so httpx errors are translated in one place (``raise OutboundError(...) from exc``) and no other
module imports httpx. Its ``pool_limits`` (the keep-alive policy) serves HubSpot's transport too. Messages
name the failure's kind, never the URL: a webhook URL is a secret.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from dashboard.errors import OutboundError

# A sandbox on loopback answers in milliseconds; the probe runs once at start-up, so a generous limit costs
# nothing and keeps a loaded machine from mistaking our own sandbox for a hung stranger.
PROBE_TIMEOUT_SECONDS = 2.0


def post_json(http: httpx.Client, url: str, payload: Mapping[str, Any], *, timeout: float) -> None:
    """POST ``payload`` as JSON; any answer outside 2xx, or no answer, is an :class:`OutboundError`."""
    try:
        resp = http.post(url, json=dict(payload), timeout=timeout)
    except httpx.HTTPError as exc:
        raise OutboundError(f"no answer ({exc.__class__.__name__})") from exc
    if not resp.is_success:
        raise OutboundError(f"answered HTTP {resp.status_code}")


SandboxVerdict = Literal["absent", "accepts", "foreign"]


@dataclass(frozen=True)
class SandboxProbe:
    """What answered at a sandbox URL. ``reason`` is one line for the log when the verdict is ``foreign``."""

    verdict: SandboxVerdict
    reason: str = ""


def probe_sandbox(url: str, *, client_id: str, redirect_uri: str,
                  timeout: float = PROBE_TIMEOUT_SECONDS) -> SandboxProbe:
    """Whether a sandbox at ``url`` would accept an install by ``client_id`` to ``redirect_uri``.

    ``GET /_sandbox`` reports the app's client id and redirect URIs (as HubSpot's developer settings
    would). ``absent``: nothing answers, so the port is free to start one; ``foreign``: something answers
    but is not a sandbox that takes our install (another program, or a sandbox started for another
    redirect URI, whose consent page would refuse ours).
    """
    try:
        resp = httpx.get(f"{url.rstrip('/')}/_sandbox", timeout=timeout)
    except (httpx.ConnectError, httpx.ConnectTimeout):
        return SandboxProbe("absent")
    except httpx.HTTPError as exc:  # something holds the port but does not answer like a sandbox
        return SandboxProbe("foreign", f"it did not answer /_sandbox ({exc.__class__.__name__})")
    try:
        info = resp.json() if resp.status_code == 200 else None
    except ValueError:
        info = None
    if not isinstance(info, dict):
        return SandboxProbe("foreign", f"it is not a sandbox (HTTP {resp.status_code} from /_sandbox)")
    if info.get("client_id") != client_id:
        return SandboxProbe("foreign", "its app has another client id")
    uris = info.get("redirect_uris")
    if not isinstance(uris, list) or redirect_uri not in uris:
        return SandboxProbe("foreign", f"its app does not list the redirect URI {redirect_uri}")
    return SandboxProbe("accepts")


# --- lifecycle webhook deliveries (dashboard/webhooks/delivery.py) ------------------------------------------

WebhookClient = httpx.Client
ANSWER_BYTES = 1024  # what is kept (and read) of a receiver's answer

# A kept-alive connection is reused only while it has been idle less than this. httpx's default (5 s) equals
# the idle timeout of uvicorn (the sandbox), Apache and Node: a request sent on a connection idle for ~5 s
# met the server's close ("Server disconnected without sending a response"). For a HubSpot token call that is
# an unknown outcome (HubSpot may have used the refresh token), a failed refresh and a backoff for nothing; for
# a webhook delivery a failed attempt. HubSpot documents no idle timeout; 4 s stays below those common 5 s at
# the cost of a new connection after a pause.
KEEPALIVE_EXPIRY_S = 4.0


def pool_limits(size: int) -> httpx.Limits:
    """A connection pool of ``size`` kept-alive connections, each reused while idle under
    :data:`KEEPALIVE_EXPIRY_S`: every outbound client's pools (HubSpot's transport too)."""
    return httpx.Limits(max_connections=size, max_keepalive_connections=size, keepalive_expiry=KEEPALIVE_EXPIRY_S)


def webhook_client(*, pool_size: int = 16) -> WebhookClient:
    """The client deliveries share: no redirects followed, no proxy from the environment."""
    return httpx.Client(follow_redirects=False, trust_env=False, limits=pool_limits(pool_size))


@dataclass(frozen=True)
class WebhookAnswer:
    """One attempt: the HTTP status (None without an answer), up to 1 KB of the answer, our one-line error."""

    status_code: int | None
    excerpt: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def post_webhook(client: WebhookClient, *, scheme: str, host: str, port: int, address: str, path: str,
                 body: bytes, headers: Mapping[str, str], timeout: float) -> WebhookAnswer:
    """POST ``body`` to ``address`` (the checked IP) presenting ``host`` (Host header, TLS SNI and certificate).

    At most :data:`ANSWER_BYTES` of the answer are read; the whole attempt ends after ``timeout`` seconds
    (a receiver trickling its answer byte by byte included). A redirect is an answer like any other non-2xx.
    """
    ip_host = f"[{address}]" if ":" in address else address
    default_port = 443 if scheme == "https" else 80
    netloc_host = host if port == default_port else f"{host}:{port}"
    url = f"{scheme}://{ip_host}:{port}{path or '/'}"
    deadline = time.monotonic() + timeout
    try:
        with client.stream("POST", url, content=body, headers={**headers, "host": netloc_host},
                           timeout=httpx.Timeout(timeout), extensions={"sni_hostname": host}) as resp:
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_raw(256):
                chunks.append(chunk)
                size += len(chunk)
                if size >= ANSWER_BYTES or time.monotonic() > deadline:
                    break
            excerpt = b"".join(chunks)[:ANSWER_BYTES].decode("utf-8", "replace")
            return WebhookAnswer(resp.status_code, excerpt, None)
    except httpx.TimeoutException as exc:
        return WebhookAnswer(None, "", f"no answer within {timeout:g} s ({exc.__class__.__name__})")
    except httpx.HTTPError as exc:
        # The class name says connection refused / TLS / protocol error; the message could hold the URL.
        return WebhookAnswer(None, "", f"no answer ({exc.__class__.__name__})")
