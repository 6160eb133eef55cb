"""Running the sandbox: uvicorn on its own event loop in a background thread (:mod:`.threaded_server`).

One thread per server keeps the state single-threaded (no locks) while the caller's thread stays free
for tests or a Streamlit app. Any number of servers can run, one after another or side by side.
"""

from __future__ import annotations

from types import TracebackType

from .app import build_app
from .config import SandboxConfig
from .state import SandboxState
from .threaded_server import ThreadedServer, http_url


class SandboxServer:
    """A local HubSpot: ``with SandboxServer(SandboxConfig()).start() as sb: ... sb.url ...``."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._serving: ThreadedServer | None = None
        self._state: SandboxState | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``: known once started, kept after ``stop()``."""
        if not self._port:
            raise RuntimeError("the sandbox has not been started; call start() first")
        return http_url(self.config.host, self._port)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive and serving."""
        return self._serving is not None and self._serving.running

    def start(self) -> SandboxServer:
        """Bind, serve in a background thread, and return once connections are accepted."""
        if self.running:
            return self
        app, self._state = build_app(self.config)  # ValueError on bad app_scopes, before any thread starts.
        serving = ThreadedServer(app, host=self.config.host, port=self.config.port, name="hubspot-sandbox",
                                 what="the sandbox")
        serving.start()
        self._serving, self._port = serving, serving.port
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread; sleeping (latency, hang) requests are woken first."""
        serving, state = self._serving, self._state
        if serving is None:
            return
        if state is not None:
            serving.call_soon(state.closing.set)
        serving.stop()
        self._serving = None

    def wait(self) -> None:
        """Block until the server stops (used by the CLI, which stops it on Ctrl-C)."""
        if self._serving is not None:
            self._serving.wait()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
