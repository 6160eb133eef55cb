"""The proxy's HTTP fixtures: a portal with contact scopes, and replicas (:class:`Api`) each serving the
proxy's FastAPI app under uvicorn with its own backend, holding an API key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from dashboard.admin import api_keys
from dashboard.context import AppContext
from dashboard.sandbox.server import SandboxServer
from dashboard.web.proxy_routes import ProxyBackend, build_app
from tests.utils.asgi_server import serve_asgi
from tests.utils.lifecycle import ADMIN, install_portal

SCOPES = ("oauth", "crm.objects.contacts.read", "crm.objects.contacts.write")
CONTACTS = "/crm/v3/objects/contacts"


class Api:
    """One replica: a context, its proxy backend and a client holding an API key."""

    def __init__(self, ctx: AppContext, key: str) -> None:
        self.ctx = ctx
        self.backend = ProxyBackend(ctx)
        self._stack = ExitStack()
        url = self._stack.enter_context(serve_asgi(build_app(lambda: self.backend)))
        self.client = httpx.Client(base_url=url, timeout=30)
        self.key = key

    def call(self, method: str, hub_id: int, path: str, *, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}", **kw.pop("headers", {})}
        return self.client.request(method, f"/api/v1/portals/{hub_id}/proxy{path}", headers=headers, **kw)

    def close(self) -> None:
        self.client.close()
        self.backend.close()
        self.ctx.hubspot.forwarder.close()  # while the server's loop still runs: its connections close there
        self._stack.close()


@pytest.fixture
def hub(ctx: AppContext, sandbox: SandboxServer) -> int:
    return int(install_portal(ctx, sandbox.url, scopes=SCOPES).hub_id)


@pytest.fixture
def make_api(ctx: AppContext) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(context: AppContext | None = None, **key_args: Any) -> Api:
        created = api_keys.create_key(ctx, actor=ADMIN, name=f"svc{len(made)}", **key_args)
        api = Api(context or ctx, created.key)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


