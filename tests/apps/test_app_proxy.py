"""The proxy, its usage and the timeline per app over HTTP (issue 27): ``/api/v1/apps/{app}/portals/{hub}/...``.

The whole ``/api/v1`` app as the server mounts it (the token and timeline routes, the proxy's router over the
process's shared backend), served by uvicorn on loopback; two sandboxes stand for two HubSpot apps and log
every API call they receive. The same hub id is installed in both: two connections. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from dashboard.admin import api_keys
from dashboard.context import AppContext
from dashboard.sandbox import SandboxServer
from dashboard.web import proxy_routes
from dashboard.web.api import api_route, build_api
from dashboard.web.runtime import set_shared_context
from tests.apps.conftest import HUB, install_in
from tests.utils.asgi_server import serve_asgi
from tests.utils.lifecycle import ADMIN

CONTACTS = "/crm/v3/objects/contacts"


@dataclass
class Served:
    client: httpx.Client
    key: str  # every app, every portal

    def call(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {key or self.key}"}, **kw)


def api_log(server: SandboxServer) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/_sandbox/api-log", timeout=5).json()["requests"])


def is_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json" and resp.headers["cache-control"] == "no-store"
    assert resp.json().keys() == {"error", "message"} and resp.json()["error"] == code, resp.text


@pytest.fixture
def served(ctx: AppContext, sandbox: SandboxServer, staging: SandboxServer) -> Iterator[Served]:
    install_in(ctx, "production", sandbox.url)  # the default app (the first declared)
    install_in(ctx, "staging", staging.url)
    key = api_keys.create_key(ctx, actor=ADMIN, name="every-app").key
    app = Starlette(routes=[api_route(build_api(proxy_routes.build_router()))])  # as build_routes() mounts it
    set_shared_context(ctx)
    try:
        with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            try:
                yield Served(client, key)
            finally:
                proxy_routes.close_shared_backend()  # what the server's lifespan does when it stops
                for app_ctx in ctx.each_app():  # while the server's loop still runs: its connections close there
                    app_ctx.hubspot.forwarder.close()
    finally:
        set_shared_context(None)


def test_a_proxied_call_goes_to_its_apps_host_with_its_apps_token(served: Served, sandbox: SandboxServer,
                                                                  staging: SandboxServer) -> None:
    resp = served.call("GET", f"/api/v1/apps/staging/portals/{HUB}/proxy{CONTACTS}?limit=1")
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-hubspot-ratelimit-max"] == "110"
    (seen,) = api_log(staging)
    assert seen["path"] == CONTACTS and seen["query"] == "limit=1"
    assert seen["authorization"] == "issued"  # a token staging's own sandbox issued: staging's
    assert api_log(sandbox) == []  # production's host never saw it

    for path in (f"/api/v1/apps/production/portals/{HUB}/proxy{CONTACTS}",
                 f"/api/v1/portals/{HUB}/proxy{CONTACTS}"):  # the path without an app: the default app
        resp = served.call("GET", path)
        assert resp.status_code == 200, (path, resp.text)
    assert [r["authorization"] for r in api_log(sandbox)] == ["issued", "issued"]
    assert len(api_log(staging)) == 1

    # Raw-path handling is the same on both paths: an encoded slash is refused and nothing is sent.
    is_error(served.call("GET", f"/api/v1/apps/staging/portals/{HUB}/proxy/crm%2Fv3%2Fobjects"), 400, "bad_path")
    assert len(api_log(staging)) == 1

    # Usage is counted per app: staging's one call, production's two (one per path).
    usage = {path: served.call("GET", path).json()["calls"]
             for path in (f"/api/v1/apps/staging/portals/{HUB}/usage", f"/api/v1/apps/production/portals/{HUB}/usage",
                          f"/api/v1/portals/{HUB}/usage")}
    assert list(usage.values()) == [1, 2, 2], usage


def test_usage_and_timeline_rows_are_the_apps_own(served: Served) -> None:
    for _ in range(3):
        assert served.call("GET", f"/api/v1/apps/staging/portals/{HUB}/proxy{CONTACTS}").status_code == 200
    assert served.call("GET", f"/api/v1/portals/{HUB}/proxy{CONTACTS}").status_code == 200

    calls = {app: served.call("GET", f"/api/v1/apps/{app}/portals/{HUB}/usage").json()
             for app in ("staging", "production")}
    assert calls["staging"]["calls"] == 3 and calls["production"]["calls"] == 1
    assert served.call("GET", f"/api/v1/portals/{HUB}/usage").json()["calls"] == 1

    backend = proxy_routes.shared_backend()
    assert backend is not None and backend.for_app("staging") is backend.for_app("staging")  # one per app
    for app in ("production", "staging"):  # each app's minute written now, as when the server stops
        backend.for_app(app).proxy.usage.flush(final=True)
    rows = {}
    for app in ("staging", "production"):
        resp = served.call("GET", f"/api/v1/apps/{app}/portals/{HUB}/timeline?kind=proxy")
        assert resp.status_code == 200, resp.text
        (event,) = resp.json()["events"]
        rows[app] = event["detail"].split(" (")[0]
    assert rows == {"staging": "3 proxied calls", "production": "1 proxied call"}
    default = served.call("GET", f"/api/v1/portals/{HUB}/timeline?kind=proxy").json()["events"]
    assert [e["detail"].split(" (")[0] for e in default] == ["1 proxied call"]
    installs = served.call("GET", f"/api/v1/apps/staging/portals/{HUB}/timeline").json()["events"]
    assert len(installs) > 1  # the install's own events are staging's too


def test_a_key_restricted_to_one_app_gets_403_on_the_other_and_nothing_is_sent(
        served: Served, ctx: AppContext, sandbox: SandboxServer, staging: SandboxServer) -> None:
    only_staging = api_keys.create_key(ctx, actor=ADMIN, name="staging-only", app="staging").key
    for method, path in (("GET", f"/api/v1/apps/production/portals/{HUB}/proxy{CONTACTS}"),
                         ("POST", f"/api/v1/apps/production/portals/{HUB}/proxy{CONTACTS}"),
                         ("GET", f"/api/v1/portals/{HUB}/proxy{CONTACTS}"),  # the default app is production
                         ("GET", f"/api/v1/apps/production/portals/{HUB}/usage"),
                         ("GET", f"/api/v1/portals/{HUB}/usage"),
                         ("GET", f"/api/v1/apps/production/portals/{HUB}/timeline"),
                         ("GET", f"/api/v1/portals/{HUB}/timeline")):
        kw = {"json": {"properties": {"email": "a@example.com"}}} if method == "POST" else {}
        resp = served.call(method, path, key=only_staging, **kw)
        is_error(resp, 403, "permission_denied")
        assert "restricted to app staging, not production" in resp.json()["message"], path
    assert api_log(sandbox) == [] and api_log(staging) == []

    # Its own app answers.
    assert served.call("GET", f"/api/v1/apps/staging/portals/{HUB}/proxy{CONTACTS}",
                       key=only_staging).status_code == 200
    for what in ("usage", "timeline"):
        assert served.call("GET", f"/api/v1/apps/staging/portals/{HUB}/{what}", key=only_staging).status_code == 200
    assert api_log(sandbox) == [] and len(api_log(staging)) == 1


def test_an_unknown_app_is_404_in_the_one_error_shape(served: Served, sandbox: SandboxServer,
                                                      staging: SandboxServer) -> None:
    for method, what in (("GET", f"proxy{CONTACTS}"), ("DELETE", f"proxy{CONTACTS}/1"), ("GET", "usage"),
                         ("GET", "timeline")):
        resp = served.call(method, f"/api/v1/apps/nope/portals/{HUB}/{what}")
        is_error(resp, 404, "unknown_app")
        assert resp.json()["message"] == "unknown app 'nope'; configured: production, staging"
    assert api_log(sandbox) == [] and api_log(staging) == []
    is_error(served.call("GET", f"/api/v1/apps/staging/portals/{HUB}/proxy{CONTACTS}", key="hsd_x_y"), 401,
             "invalid_api_key")  # the key first, as on every route


def test_the_document_lists_the_app_routes_with_their_models(served: Served) -> None:
    doc = served.client.get("/api/v1/openapi.json").json()
    ids = [operation["operationId"] for operations in doc["paths"].values() for operation in operations.values()]
    assert len(ids) == len(set(ids))  # one per method, also where one route serves several
    proxy = doc["paths"]["/api/v1/apps/{app}/portals/{hub_id}/proxy/{path}"]
    assert set(proxy) == {"get", "head", "post", "put", "patch", "delete"}
    assert {"403", "404", "409", "429"} <= set(proxy["get"]["responses"])
    for path, model in (("/api/v1/apps/{app}/portals/{hub_id}/usage", "UsageSummary"),
                        ("/api/v1/portals/{hub_id}/usage", "UsageSummary"),
                        ("/api/v1/apps/{app}/portals/{hub_id}/timeline", "TimelinePage")):
        ok = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}, path
        assert doc["paths"][path]["get"]["security"] == [{"apiKey": []}]
