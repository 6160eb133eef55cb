"""Running the test OpenID provider: uvicorn on its own event loop in a background thread.

Started the way the sandbox starts (``dashboard/sandbox/threaded_server.py``), without its HubSpot state:
tests start one per session, ``python -m devtools.oidc`` runs one in the foreground for an offline sign-in
demo.
"""

from __future__ import annotations

from types import TracebackType

from starlette.applications import Starlette

from dashboard.sandbox.threaded_server import ThreadedServer, http_url

from .protocol import OidcConfig
from .routes import OidcEndpoints, ProviderState


class OidcServer:
    """``with OidcServer(OidcConfig()).start() as idp: ... idp.metadata_url ...``."""

    def __init__(self, config: OidcConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or OidcConfig()
        self.host = host
        self.state = ProviderState(self.config)
        self._port = port
        self._serving: ThreadedServer | None = None

    @property
    def url(self) -> str:
        """The issuer, e.g. ``http://127.0.0.1:54321`` (known once started)."""
        if not self._port:
            raise RuntimeError("the provider has not been started; call start() first")
        return http_url(self.host, self._port)

    @property
    def metadata_url(self) -> str:
        """What ``server_metadata_url`` in ``[auth]`` of ``.streamlit/secrets.toml`` points at."""
        return f"{self.url}/.well-known/openid-configuration"

    def start(self) -> OidcServer:
        """Bind, serve in a background thread, and return once connections are accepted."""
        if self._serving is not None:
            return self
        serving = ThreadedServer(Starlette(routes=OidcEndpoints(self.state).routes()), host=self.host,
                                 port=self._port, name="test-oidc", what="the OpenID provider")
        serving.start()
        self._serving, self._port = serving, serving.port
        return self

    def stop(self) -> None:
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()

    def wait(self) -> None:
        """Block until the server stops (the CLI stops it on Ctrl-C)."""
        serving = self._serving
        if serving is not None:
            serving.wait()

    def __enter__(self) -> OidcServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
