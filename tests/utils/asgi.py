"""Driving an ASGI app directly, as uvicorn hands it a request or a websocket handshake (no test client:
Starlette's warns about its httpx dependency, an error under this suite's warning filters)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message


@dataclass
class Answer:
    status: int
    headers: Headers
    text: str
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass
class Client:
    """Drives the ASGI app directly (one request or websocket handshake, as uvicorn would hand it over)."""

    app: ASGIApp

    def _scope(self, kind: str, path: str, host: str) -> dict[str, Any]:
        return {"type": kind, "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
                "headers": [(b"host", host.encode())], "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8501), "scheme": "http" if kind == "http" else "ws",
                "http_version": "1.1", "root_path": "", "extensions": {"websocket.http.response": {}}}

    def get(self, path: str, *, host: str = "127.0.0.1:8501") -> Answer:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        async def run() -> None:
            with contextlib.suppress(RuntimeError):  # re-raised for the server's log after the 500 went out
                await self.app(self._scope("http", path, host), receive, send)

        asyncio.run(run())
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return Answer(start["status"], Headers(raw=start["headers"]), body.decode(errors="replace"),
                      list(start["headers"]))

    def websocket(self, path: str, *, host: str = "127.0.0.1:8501") -> Message:
        """The handshake's answer: ``websocket.accept`` (with its headers) or a refusal."""
        sent: list[Message] = []
        inbox = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

        async def receive() -> Message:
            return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

        async def send(message: Message) -> None:
            sent.append(message)

        asyncio.run(self.app(self._scope("websocket", path, host), receive, send))  # type: ignore[arg-type]
        return sent[0]
