"""Running the test OpenID provider: uvicorn on its own event loop in a background thread.

The same shape as the sandbox's server (``dashboard/sandbox/server.py``), without its HubSpot state: tests
start one per session, ``python -m devtools.oidc`` runs one in the foreground for an offline sign-in demo.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from .protocol import OidcConfig
from .routes import OidcEndpoints, ProviderState

START_TIMEOUT_S = 10.0


class OidcServer:
    """``with OidcServer(OidcConfig()).start() as idp: ... idp.metadata_url ...``."""

    def __init__(self, config: OidcConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or OidcConfig()
        self.host = host
        self.state = ProviderState(self.config)
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """The issuer, e.g. ``http://127.0.0.1:54321`` (known once started)."""
        if self._server is None and not self._port:
            raise RuntimeError("the provider has not been started; call start() first")
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self._port}"

    @property
    def metadata_url(self) -> str:
        """What ``server_metadata_url`` in ``[auth]`` of ``.streamlit/secrets.toml`` points at."""
        return f"{self.url}/.well-known/openid-configuration"

    def start(self) -> OidcServer:
        """Bind, serve in a background thread, and return once connections are accepted."""
        if self._server is not None:
            return self
        app = Starlette(routes=OidcEndpoints(self.state).routes())
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(app, loop="asyncio", http="h11", ws="none", lifespan="off", log_config=None,
                                log_level="warning", access_log=False, timeout_graceful_shutdown=2)
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, args=(server, sock), name=f"test-oidc-{self._port}",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OpenID provider did not start: {self._failure!r}")
            time.sleep(0.01)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # Reported by start(); a thread has nobody else to tell.
            self._failure = exc
        finally:
            sock.close()
            loop.close()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=10)
        self._server = None
        self._thread = None

    def wait(self) -> None:
        """Block until the server stops (the CLI stops it on Ctrl-C)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> OidcServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
