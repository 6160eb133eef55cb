"""A kept-alive connection is not reused once it has been idle for :data:`KEEPALIVE_EXPIRY_S`: HubSpot's client
and the webhook deliveries' client.

A server closes idle connections after its own timeout (uvicorn, the sandbox's server: 5 s). A request sent on
a connection just as the server closes it gets no answer; for a token call that is an unknown outcome and a
failed refresh (CI saw one in the crash-safety test's sweep). The server below closes a connection, without
answering, when a request arrives after it has been idle a little longer than our expiry: the moment of that
race made repeatable. Neither the sandbox nor a MockTransport can place a close at a chosen moment.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from dashboard import outbound
from dashboard.hubspot.transport import build_http_client
from dashboard.outbound import KEEPALIVE_EXPIRY_S

SERVER_IDLE_S = KEEPALIVE_EXPIRY_S + 0.3  # a server whose idle timeout is just above ours (uvicorn's 5 s ...)
BODY = b'{"token_type":"bearer","expires_in":1800}'


class _Racing(socketserver.BaseRequestHandler):
    """HTTP/1.1 keep-alive; a request after ``SERVER_IDLE_S`` of idleness finds the connection closing."""

    connections = 0

    def handle(self) -> None:
        type(self).connections += 1
        sock: socket.socket = self.request
        idle_since, buffered = time.monotonic(), b""
        while True:
            while b"\r\n\r\n" not in buffered:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffered += chunk
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(buffered) < length:
                buffered += sock.recv(65536)
            buffered = buffered[length:]
            if time.monotonic() - idle_since >= SERVER_IDLE_S:
                return  # the server's idle timer fired as the request came in: closed, no answer
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(BODY), BODY))
            idle_since = time.monotonic()


@pytest.fixture
def racing_server() -> Iterator[str]:
    _Racing.connections = 0
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Racing)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CLIENTS: dict[str, Callable[[], httpx.Client]] = {
    "hubspot": lambda: build_http_client(transport=None, timeout=5, pool_size=4),
    "webhooks": lambda: outbound.webhook_client(pool_size=4),
}


@pytest.mark.parametrize("which", list(CLIENTS))
def test_a_connection_idle_past_the_expiry_is_replaced_before_the_server_closes_it(racing_server: str,
                                                                                   which: str) -> None:
    url = f"{racing_server}/oauth/v3/token"
    with CLIENTS[which]() as client:
        assert client.post(url, data={"grant_type": "refresh_token"}).status_code == 200
        time.sleep(0.2)
        assert client.post(url, data={"grant_type": "refresh_token"}).status_code == 200
        assert _Racing.connections == 1  # a short pause: the kept connection is reused (keep-alive works)
        time.sleep(SERVER_IDLE_S + 0.1)  # httpx's default expiry (5 s) would reuse it here and get no answer
        assert client.post(url, data={"grant_type": "refresh_token"}).status_code == 200
        assert _Racing.connections == 2
