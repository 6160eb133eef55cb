"""The proxy's calls to HubSpot's API, as they are: no retry, any status returned (the proxy decides what a
401 or a 429 means).

Two ways in. :meth:`Forwarder.forward` blocks, over the context's ``httpx.Client`` (the console, the CLI).
:meth:`Forwarder.forward_async` is the HTTP proxy's, on the server's event loop: no worker thread per call
(a thread hop each way cost the proxy more than HubSpot's own answer at 50 callers; docs/proofs.md). It
sends an ``httpx.Request`` straight to an async transport (:class:`AsyncShardedTransport`), not through an
``httpx.AsyncClient``: the client's layers (cookie jar, auth and redirect handling, event hooks) cost about
0.25 ms a call here, a seventh of the proxy's whole budget, and the proxy wants none of them; a client's
cookie jar would even carry one portal's HubSpot cookies into another portal's calls. A transport and its
connections belong to the event loop that opened them, so there is one per loop, made on its first call
there; :meth:`aclose` closes the running loop's (the server's lifespan), :meth:`close` the others'.

Tests hand the context a transport (``build_context(transport=...)``): one that can also answer
asynchronously (``httpx.MockTransport``) serves both ways; a sync-only one is called in a worker thread, so
the seam stays the same. Exceptions are translated here, once: timeouts are :class:`TransientError`
``hubspot_timeout``, connection failures ``hubspot_unreachable``. The one retry: an idempotent call whose
kept-alive connection the server had just closed is sent once more (:data:`ATTEMPTS`). No log line or
exception carries the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from dashboard.errors import TransientError
from dashboard.hubspot.transport import USER_AGENT, AsyncShardedTransport

if TYPE_CHECKING:
    from dashboard.hubspot.client import HubSpotApp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawResponse:
    """HubSpot's answer as it came (body already decoded from any Content-Encoding)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Forwarder:
    """Sends the proxy's calls for one app; see the module docstring."""

    def __init__(self, app: HubSpotApp, http: httpx.Client, *, transport: httpx.BaseTransport | None = None,
                 pool_size: int = 64, timeout: float = 30.0) -> None:
        self.app = app
        self._http = http
        self._async_transport = transport if isinstance(transport, httpx.AsyncBaseTransport) else None
        self._in_thread = transport is not None and self._async_transport is None  # a sync-only test seam
        self._pool_size = pool_size
        self._timeout = timeout
        self._transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncBaseTransport] = \
            weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _request(self, access_token: str, method: str, path: str, query: str,
                 headers: dict[str, str] | None) -> tuple[str, dict[str, str]]:
        url = self.app.api_base_url.rstrip("/") + path + (f"?{query}" if query else "")
        return url, {**(headers or {}), "authorization": f"Bearer {access_token}"}

    def forward(self, access_token: str, method: str, path: str, *, query: str = "",
                headers: dict[str, str] | None = None, body: bytes = b"", timeout: float | None = None
                ) -> RawResponse:
        """One call, blocking. ``path`` and ``query`` must come from
        :func:`dashboard.proxy.paths.resolve_path` and the caller's query string; our ``Authorization``
        replaces any other."""
        url, sent = self._request(access_token, method, path, query, headers)
        for attempt in range(1, ATTEMPTS + 1):
            with _translated(method, path, retry=_may_retry(method, attempt)):
                resp = self._http.request(method, url, content=body or None, headers=sent,
                                          timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
                break
        log.debug("hubspot proxy %s %s -> %s", method, path, resp.status_code)
        return RawResponse(resp.status_code, tuple(resp.headers.multi_items()), resp.content)

    async def forward_async(self, access_token: str, method: str, path: str, *, query: str = "",
                            headers: dict[str, str] | None = None, body: bytes = b"",
                            timeout: float | None = None) -> RawResponse:
        """:meth:`forward` on the running event loop."""
        if self._in_thread:
            return await asyncio.to_thread(self.forward, access_token, method, path, query=query,
                                           headers=headers, body=body, timeout=timeout)
        url, sent = self._request(access_token, method, path, query, headers)
        seconds = timeout if timeout is not None else self._timeout
        request = httpx.Request(method, url, content=body or None, headers={**_DEFAULT_HEADERS, **sent},
                                extensions={"timeout": httpx.Timeout(seconds).as_dict()})
        for attempt in range(1, ATTEMPTS + 1):
            with _translated(method, path, retry=_may_retry(method, attempt)):
                resp = await self._transport().handle_async_request(request)
                try:
                    content = await resp.aread()  # decoded from any Content-Encoding, like the blocking path
                finally:
                    await resp.aclose()
                break
        log.debug("hubspot proxy %s %s -> %s", method, path, resp.status_code)
        return RawResponse(resp.status_code, tuple(resp.headers.multi_items()), content)

    def _transport(self) -> httpx.AsyncBaseTransport:
        loop = asyncio.get_running_loop()
        transport = self._transports.get(loop)
        if transport is None:
            with self._lock:
                transport = self._transports.get(loop)
                if transport is None:
                    transport = self._transports[loop] = (
                        self._async_transport or AsyncShardedTransport(max_connections=self._pool_size))
        return transport

    async def aclose(self) -> None:
        """Close the running loop's transport (call before that loop ends: its connections die with it)."""
        with self._lock:
            transport = self._transports.pop(asyncio.get_running_loop(), None)
        if transport is not None and transport is not self._async_transport:
            await transport.aclose()

    def close(self) -> None:
        """Close every loop's transport that can still be closed: a loop running in another thread closes
        its own; a loop already closed took its connections with it."""
        with self._lock:
            transports = list(self._transports.items())
            self._transports.clear()
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for loop, transport in transports:
            if transport is self._async_transport:
                continue  # the test's own: theirs to close
            if loop is here:
                loop.create_task(transport.aclose())
            elif loop.is_running():
                with contextlib.suppress(Exception):  # the loop ended meanwhile: nothing left to close
                    asyncio.run_coroutine_threadsafe(transport.aclose(), loop).result(timeout=5)


# What httpx.Client sends by default on the blocking path, so both ways look the same to HubSpot.
_DEFAULT_HEADERS = {"user-agent": USER_AGENT, "accept": "*/*", "accept-encoding": "gzip, deflate"}


# A kept-alive connection the server closed just as we reused it ("Server disconnected without sending a
# response", a reset, a broken pipe) got no answer: an idempotent call (RFC 9110 9.2.2) is sent once more, on a
# new connection. Measured against the sandbox (uvicorn closes idle connections after 5 s): 2 of 800 calls
# while httpx kept connections 5 s too; the pools' 4 s expiry (outbound.KEEPALIVE_EXPIRY_S) now avoids that race,
# and this retry stays for servers that close sooner.
ATTEMPTS = 2
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


def _may_retry(method: str, attempt: int) -> bool:
    return method in _IDEMPOTENT and attempt < ATTEMPTS


@contextlib.contextmanager
def _translated(method: str, path: str, *, retry: bool = False) -> Iterator[None]:
    """Our errors for httpx's; a stale connection's failure swallowed when ``retry`` (the loop goes on)."""
    operation = f"{method} {path}"
    try:
        yield
    except _STALE_CONNECTION as exc:
        if retry:
            log.info("hubspot proxy %s: the kept connection was closed (%s); sending again",
                     operation, exc.__class__.__name__)
            return
        raise TransientError(f"cannot reach HubSpot for {operation} ({exc.__class__.__name__})",
                             code="hubspot_unreachable") from exc
    except httpx.TimeoutException as exc:
        raise TransientError(f"HubSpot did not answer {operation} in time", code="hubspot_timeout") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"cannot reach HubSpot for {operation} ({exc.__class__.__name__})",
                             code="hubspot_unreachable") from exc
