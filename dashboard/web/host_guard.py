"""ASGI middleware: loopback trust bound to the ``Host`` (the rule is :mod:`dashboard.security.host_rules`).

Streamlit's own ``server.allowedHosts`` (set in ``.streamlit/config.toml``) checks the websocket's Host
name; this middleware also checks the port, the ``Origin``, and the HTTP routes (``/connect``, media,
uploads), and does not depend on that setting being kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from dashboard.security.host_rules import allowed


class HostGuard:
    """ASGI middleware applying :func:`allowed` to every HTTP request and websocket."""

    def __init__(self, app: ASGIApp, *, sign_in_configured: Callable[[], bool],
                 trusted_origins: Callable[[], Sequence[str]] = tuple,
                 allowed_hosts: Callable[[], Sequence[str]] = tuple) -> None:
        self.app = app
        self.sign_in_configured = sign_in_configured
        self.trusted_origins = trusted_origins
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        server = scope.get("server")
        port = int(server[1]) if server and server[1] is not None else None
        refusal = allowed(kind=scope["type"], host=headers.get("host"), origin=headers.get("origin"), port=port,
                          sign_in=self.sign_in_configured(), trusted_origins=self.trusted_origins(),
                          path=str(scope.get("path", "")), allowed_hosts=self.allowed_hosts())
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: the handshake gets a 403
        else:
            response = PlainTextResponse(refusal, status_code=403, headers={"Cache-Control": "no-store"})
            await response(scope, receive, send)
