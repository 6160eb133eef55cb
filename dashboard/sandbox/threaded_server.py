"""Serving an ASGI app from a background thread: uvicorn on its own event loop, on a socket bound first.

The sandbox (:mod:`.server`) and the test OpenID provider (``devtools/oidc/server.py``, which may import
this; the sandbox imports nothing from it) start the same way: bind ``host:port`` (port 0: a free one) so the
URL is known before anything is served, serve in a daemon thread, and return once connections are accepted.
The caller's thread stays free for tests, a Streamlit app or a CLI waiting for Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

START_TIMEOUT_S = 10.0


def http_url(host: str, port: int) -> str:
    """``http://127.0.0.1:54321``; an IPv6 host in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class ThreadedServer:
    """One start, one stop: ``s = ThreadedServer(app, host=..., port=0, name="x", what="x"); s.start()``."""

    def __init__(self, app: ASGIApp, *, host: str, port: int, name: str, what: str) -> None:
        self.app = app
        self.host = host
        self.port = port  # the bound port once started
        self.name = name  # the thread's name, with the port appended
        self.what = what  # for the error message: "the sandbox did not start: ..."
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive and serving."""
        return self._thread is not None and self._thread.is_alive() and self._server is not None

    def start(self) -> None:
        """Bind (``OSError`` if the port is taken), serve, and return once connections are accepted
        (``RuntimeError`` if that takes longer than :data:`START_TIMEOUT_S`)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say they are TCP, and
        # without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            http="h11",
            ws="none",  # No websockets: also keeps websockets' deprecation warnings out of test runs.
            lifespan="off",
            log_config=None,  # Never reconfigure the host process's logging (Streamlit, pytest).
            log_level="warning",
            access_log=False,
            backlog=2048,
            timeout_graceful_shutdown=2,
        )
        self._server = server = uvicorn.Server(config)
        self._failure = None
        self._thread = thread = threading.Thread(target=self._run, args=(server, sock),
                                                 name=f"{self.name}-{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.what} did not start: {self._failure!r}")
            time.sleep(0.01)

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # Reported by start(); a thread has nobody else to tell.
            self._failure = exc
        finally:
            sock.close()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the server's event loop (e.g. to wake sleeping requests before a stop)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # The loop may close between the check and the call; then there is nothing left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

    def stop(self) -> None:
        """Stop serving and wait for the thread (at most 10 s)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=10)
        self._server = None
        self._thread = None
        self._loop = None

    def wait(self) -> None:
        """Block until the server stops (the CLIs stop it on Ctrl-C)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)
