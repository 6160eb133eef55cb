"""Running the sandbox: uvicorn on its own event loop in a background thread.

One thread per server keeps the state single-threaded (no locks) while the caller's thread stays free
for tests or a Streamlit app. Any number of servers can run, one after another or side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from types import TracebackType

import uvicorn

from .app import build_app
from .config import SandboxConfig
from .state import SandboxState

START_TIMEOUT_S = 10.0


class SandboxServer:
    """A local HubSpot: ``with SandboxServer(SandboxConfig()).start() as sb: ... sb.url ...``."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state: SandboxState | None = None
        self._failure: BaseException | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``: known once started, kept after ``stop()``."""
        if not self._port:
            raise RuntimeError("the sandbox has not been started; call start() first")
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self._port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is alive and serving."""
        return self._thread is not None and self._thread.is_alive() and self._server is not None

    def start(self) -> SandboxServer:
        """Bind, serve in a background thread, and return once connections are accepted."""
        if self.running:
            return self
        app, self._state = build_app(self.config)  # ValueError on bad app_scopes, before any thread starts.
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say they are TCP, and
        # without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        uv_config = uvicorn.Config(
            app,
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
        self._server = uvicorn.Server(uv_config)
        self._failure = None
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name=f"hubspot-sandbox-{self._port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start: {self._failure!r}")
            time.sleep(0.01)
        return self

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

    def stop(self) -> None:
        """Stop serving and wait for the thread; sleeping (latency, hang) requests are woken first."""
        server, thread, loop, state = self._server, self._thread, self._loop, self._state
        if server is None or thread is None:
            return
        if loop is not None and state is not None and not loop.is_closed():
            # The loop may close between the check and the call; then there is nothing left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(state.closing.set)
        server.should_exit = True
        thread.join(timeout=10)
        self._server = None
        self._thread = None
        self._loop = None

    def wait(self) -> None:
        """Block until the server stops (used by the CLI, which stops it on Ctrl-C)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
