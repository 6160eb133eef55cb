"""ASGI middleware: no page of the dashboard may be shown inside another site's frame (clickjacking).

Without sign-in, a page that frames the dashboard gets a usable admin UI, and a click there is audited as
the local admin. Every response this server sends passes through here (it is the outermost middleware in
``st.App``, so Streamlit's own pages, static assets and media, ``/connect``, the API and the ops routes
alike), and each gets ``X-Frame-Options: DENY`` (older browsers) and ``Content-Security-Policy:
frame-ancestors 'none'`` (the standard). A response that already has a policy keeps it, with
``frame-ancestors 'none'`` added; a websocket handshake gets the same headers. An exception before the
response started is answered here with a plain 500 (with the headers), then re-raised for the server's log.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_OPTIONS = (b"x-frame-options", b"DENY")
FRAME_ANCESTORS = b"frame-ancestors 'none'"
CSP = b"content-security-policy"


def with_frame_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with the two anti-framing headers set (an existing policy keeps its directives)."""
    out: list[tuple[bytes, bytes]] = []
    had_policy = False
    for name, value in headers:
        lower = name.lower()
        if lower == FRAME_OPTIONS[0]:
            continue
        if lower == CSP:
            had_policy = True
            directives = [d for d in value.split(b";") if d.strip() and
                          not d.strip().lower().startswith(b"frame-ancestors")]
            value = b"; ".join([*(d.strip() for d in directives), FRAME_ANCESTORS])
        out.append((name, value))
    out.append(FRAME_OPTIONS)
    if not had_policy:
        out.append((CSP, FRAME_ANCESTORS))
    return out


class FrameGuard:
    """Adds the anti-framing headers to every HTTP response and websocket handshake."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.accept"):
                started = True
                message = {**message, "headers": with_frame_headers(list(message.get("headers") or []))}
            elif message["type"] == "websocket.http.response.start":  # a refused handshake's own response
                message = {**message, "headers": with_frame_headers(list(message.get("headers") or []))}
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception:
            if scope["type"] == "http" and not started:
                await guarded_send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]})
                await send({"type": "http.response.body", "body": b"Internal Server Error\n"})
            raise
