"""Which requests a dashboard without sign-in may serve: the Host/Origin rule, pure (no web framework).

Without sign-in the dashboard trusts whoever reaches its loopback port. A page on ``rebind.attacker.test``
whose name later resolves to 127.0.0.1 reaches that port too (DNS rebinding), but its requests carry
``Host: rebind.attacker.test:PORT`` and, from script, ``Origin: http://rebind.attacker.test:PORT``. So
without sign-in every request and websocket must name a loopback host (``localhost``, 127.0.0.0/8,
``[::1]``) on the listening port, and a browser ``Origin``, when sent, must too. With sign-in the pages
are authenticated, and the websocket's ``Origin`` must still be the dashboard itself (or one listed in
``server.corsAllowedOrigins``): a foreign page must not drive a signed-in browser's session. The routes
that answer without sign-in (``/metrics`` trusts loopback clients, ``/readyz``, the OpenAPI document) get
the websocket's Host check too: the ``Host`` must be a name in ``server.allowedHosts`` (a loopback name
when that list is empty), so a rebinding page cannot read them through the operator's browser.

Used by the ASGI middleware (``dashboard.web.host_guard``) and again by the pages (``dashboard.security.access``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; an empty address means all interfaces."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


REFUSED = ("This dashboard runs without sign-in and answers only to a loopback address (127.0.0.1 or "
           "localhost) on its own port. Configure sign-in to use it under another name (docs/sign-in.md)."
           "\n")
FOREIGN_ORIGIN = "Refused: the request comes from a page that is not this dashboard.\n"
UNLISTED_HOST = ("Refused: this name is not in server.allowedHosts (.streamlit/config.toml); with sign-in, "
                 "/metrics, /readyz and the OpenAPI document answer only under the dashboard's own names.\n")
HOST_CHECKED_PATHS = frozenset({"/metrics", "/readyz", "/api/v1/openapi.json"})
"""Routes that answer without a signed-in user; under sign-in their ``Host`` must be an allowed name."""


def split_host(host: str | None, *, default_port: int) -> tuple[str, int] | None:
    """``(hostname, port)`` of a Host header value, or None when it is malformed."""
    if not host:
        return None
    try:
        parts = urlsplit(f"//{host}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None or parts.path:
        return None
    return parts.hostname.rstrip("."), port if port is not None else default_port


def loopback_host(host: str | None, *, port: int | None) -> bool:
    """True when ``host`` names a loopback address (or ``localhost``) and, if known, the listening port."""
    found = split_host(host, default_port=80)
    if found is None:
        return False
    name, host_port = found
    return is_loopback(name) and (port is None or host_port == port)


def origin_authority(origin: str) -> str | None:
    """``host[:port]`` of an ``Origin`` header (``null`` and malformed origins give None)."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.hostname}:{port if port is not None else default}"


def same_origin(origin: str, host: str | None) -> bool:
    authority = origin_authority(origin)
    found = split_host(host, default_port=443 if (origin or "").startswith("https:") else 80)
    return authority is not None and found is not None and authority == f"{found[0]}:{found[1]}"


def host_listed(host: str | None, allowed_hosts: Sequence[str]) -> bool:
    """Streamlit's ``server.allowedHosts`` rule (exact names and ``*.suffix``; the port is not compared);
    an empty list allows loopback names only."""
    found = split_host(host, default_port=80)
    if found is None:
        return False
    name = found[0].lower()
    if not allowed_hosts:
        return is_loopback(name)
    for entry in allowed_hosts:
        pattern = entry.strip().lower().rstrip(".")
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


def allowed(*, kind: str, host: str | None, origin: str | None, port: int | None, sign_in: bool,
            trusted_origins: Sequence[str] = (), path: str = "",
            allowed_hosts: Sequence[str] = ()) -> str | None:
    """None when the request may pass, else the reason it is refused (the rule, pure for tests)."""
    if not sign_in:
        if not loopback_host(host, port=port):
            return REFUSED
        if origin is not None and not same_origin(origin, host):
            authority = origin_authority(origin)
            if authority is None or not loopback_host(authority, port=port):
                return FOREIGN_ORIGIN
        return None
    if kind == "websocket" and origin is not None and not same_origin(origin, host) \
            and origin.rstrip("/") not in {o.rstrip("/") for o in trusted_origins}:
        return FOREIGN_ORIGIN
    if kind == "http" and path in HOST_CHECKED_PATHS and not host_listed(host, allowed_hosts):
        return UNLISTED_HOST
    return None
