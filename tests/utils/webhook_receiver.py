"""A local webhook receiver: records every request (headers, body) and answers as a test scripts it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    url: str
    received: list[Received]
    script: list[Callable[[Received], Answer]]  # consumed in order; then 200 "ok"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)

    def verified(self, *secrets: str) -> list[Any]:
        """Every body, each verified by the ``standardwebhooks`` library with one of ``secrets``."""
        out = []
        for r in self.received:
            payload = next((p for p in (_verify(secret, r) for secret in secrets) if p is not None), None)
            assert payload is not None, f"a delivery did not verify: {r.headers.get('webhook-id')}"
            out.append(payload)
        return out


def _verify(secret: str, r: Received) -> Any:
    try:
        return Webhook(secret).verify(r.body, r.headers)
    except WebhookVerificationError:
        return None


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    received: list[Received] = []
    script: list[Callable[[Received], Answer]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            item = Received({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
            with lock:
                received.append(item)
                rule = script.pop(0) if script else None
            answer = rule(item) if rule else Answer()
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks", received, script)
    finally:
        server.shutdown()
        server.server_close()
