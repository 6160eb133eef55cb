"""A page on another origin frames the dashboard: Chromium refuses to show it (clickjacking).

Without sign-in, a framed dashboard would be a usable admin UI whose clicks are audited as the local admin.
The attacker's page here is served from another origin (``127.0.0.1:<other port>``); it frames the
dashboard's main page, a page URL and ``/connect/...``. Chromium must load none of them (the frame is left
on its error page and the console names ``frame-ancestors``), while the same page frames its own origin's
page fine (so the harness itself can show a frame). Then every kind of response the real ``st.App`` serves
(the page, a static asset, health, ``/connect``, ``/metrics``, the API and the websocket handshake) is
checked for both headers.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def attacker(app_url: str) -> Iterator[str]:
    """An HTTP server on another origin; ``/frame?src=URL`` is a page that frames URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/frame?src="):
                src = self.path.split("=", 1)[1]
                body = (f"<!doctype html><title>attacker</title><p>win a prize</p>"
                        f"<iframe id='victim' src='{src}' width='900' height='600'></iframe>").encode()
            else:
                body = b"<!doctype html><title>own</title><p id='own'>attacker's own page</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def framed(page: Page, attacker: str, src: str) -> tuple[str, list[str]]:
    """Open the attacker's page framing ``src``; the frame's final URL and the console's messages."""
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    with page.expect_event("framenavigated", predicate=lambda f: f.parent_frame is not None, timeout=30_000):
        page.goto(f"{attacker}/frame?src={src}")
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)  # console messages arrive after the load event
    child = page.frames[1]
    return child.url, console


def test_the_attackers_page_can_frame_its_own_origin(page: Page, attacker: str) -> None:
    url, _ = framed(page, attacker, f"{attacker}/own")
    assert url == f"{attacker}/own"
    assert page.frames[1].locator("#own").is_visible()


@pytest.mark.parametrize("path", ["/", "/install", "/connect/not-a-real-link"])
def test_chromium_refuses_to_show_the_dashboard_in_a_foreign_frame(page: Page, attacker: str, app_url: str,
                                                                   path: str) -> None:
    url, console = framed(page, attacker, app_url + path)
    assert url.startswith("chrome-error://"), url  # the frame holds Chromium's error page, not the dashboard
    assert page.frames[1].locator("[data-testid='stApp'], #message").count() == 0
    assert any("frame-ancestors" in line or "X-Frame-Options" in line for line in console), console


def websocket_handshake(app_url: str) -> str:
    """The raw answer to a websocket upgrade of Streamlit's own ``/_stcore/stream`` (its status and headers)."""
    parts = urlsplit(app_url)
    with socket.create_connection(("127.0.0.1", parts.port or 80), timeout=15) as sock:
        sock.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      f"Sec-WebSocket-Version: 13\r\nOrigin: {app_url}\r\n"
                      f"Sec-WebSocket-Protocol: streamlit\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n\r\n", 1)[0].decode(errors="replace")


def test_every_kind_of_response_the_server_sends_forbids_framing(app_url: str) -> None:
    with httpx.Client(base_url=app_url, timeout=30, trust_env=False) as http:
        index = http.get("/")
        asset = re.search(r"""(static/[^"'\s]+\.(?:js|css))""", index.text)
        assert asset is not None, index.text[:500]
        paths = ["/", "/install", f"/{asset.group(1)}", "/_stcore/health", "/healthz", "/readyz", "/metrics",
                 "/api/v1/portals", "/api/v1/openapi.json", "/connect/not-a-real-link", "/favicon.png"]
        for path in paths:
            response = http.get(path)
            assert response.headers.get("x-frame-options") == "DENY", (path, response.status_code)
            assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", ""), path
    handshake = websocket_handshake(app_url)
    assert handshake.startswith("HTTP/1.1 101"), handshake
    lines = {line.lower() for line in handshake.split("\r\n")}
    assert "x-frame-options: deny" in lines, handshake
    assert "content-security-policy: frame-ancestors 'none'" in lines, handshake
