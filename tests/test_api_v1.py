"""``/api/v1`` in-process: the generated OpenAPI document, one JSON error shape at every edge, Schemathesis.

The API app is served as the ``st.App`` serves it (``api_route`` in a Starlette router beside a catch-all
that stands for Streamlit's HTML), over ASGI, with a real context (SQLite and PostgreSQL) and the sandbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import APIRouter
from hypothesis import HealthCheck, given, settings
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from dashboard.admin import api_keys
from dashboard.context import AppContext
from dashboard.models import PortalStatus
from dashboard.ops import metrics
from dashboard.sandbox import SandboxServer
from dashboard.web.api import api_route, build_api
from dashboard.web.runtime import set_shared_context
from tests.utils.lifecycle import ADMIN, install_portal
from tests.utils.seeding import seed_portals

BAD_HUB_IDS = ["0", "-1", "9223372036854775808", "1" * 50_000, "１２", "²", "abc", "1.0", "+1", "1_0", "0x10",
               " ", "1e3"]


async def _html(request: Request) -> HTMLResponse:
    return HTMLResponse("<html>streamlit</html>")  # what the st.App answers for any other path


def _boom_router() -> APIRouter:
    router = APIRouter()

    @router.get("/boom", name="boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("a bug")

    return router


@dataclass
class Served:
    app: Starlette
    key: str
    hub: int

    def call(self, method: str, path: str, key: str | None = "", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key if key == '' else key}"} if key is not None else {}

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                return await client.request(method, path, headers=headers, **kw)

        return asyncio.run(go())


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def served(ctx: AppContext, sandbox: SandboxServer) -> Iterator[Served]:
    hub = install_portal(ctx, sandbox.url).hub_id
    key = api_keys.create_key(ctx, actor=ADMIN, name="api-v1").key
    app = Starlette(routes=[api_route(build_api(_boom_router())), Route("/{rest:path}", _html)])
    set_shared_context(ctx)
    try:
        yield Served(app, key, hub)
    finally:
        set_shared_context(None)


def _counted(endpoint: str, status: int) -> float:
    text = metrics.render(None).decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "dashboard_token_api_requests_total" and s.labels == {"endpoint": endpoint,
                                                                                  "status": str(status)})


def _is_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json" and resp.headers["cache-control"] == "no-store"
    assert resp.json().keys() == {"error", "message"} and resp.json()["error"] == code, resp.text
    assert "\n" not in resp.json()["message"] and len(resp.json()["message"]) < 300


def test_unmatched_paths_are_json_404_and_wrong_methods_json_405(served: Served) -> None:
    for path in ("/api/v1", "/api/v1/", "/api/v1/nope", f"/api/v1/portals/{served.hub}/tokenx",
                 "/api/v1/portals/x/y/z"):
        _is_error(served.call("GET", path), 404, "not_found")
    assert served.call("GET", "/api/v1x").text == "<html>streamlit</html>"  # not the API's prefix
    resp = served.call("POST", f"/api/v1/portals/{served.hub}/token")
    _is_error(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == "GET"
    resp = served.call("DELETE", "/api/v1/portals")
    _is_error(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == "GET"
    for path in (f"/api/v1/portals/{served.hub}/token", "/api/v1/portals", "/api/v1/openapi.json"):
        ok = served.call("GET", path)
        assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store", path


@pytest.mark.parametrize("hub", BAD_HUB_IDS, ids=lambda h: repr(h[:12]))
def test_bad_hub_ids_are_json_400_on_every_route(served: Served, hub: str) -> None:
    for method, what in (("GET", "token"), ("POST", "refresh")):
        resp = served.call(method, f"/api/v1/portals/{httpx.URL(path='/' + hub).raw_path.decode()[1:]}/{what}")
        _is_error(resp, 400, "invalid_hub_id")
        assert "up to 9223372036854775807" in resp.json()["message"]


def test_the_largest_hub_id_is_a_404_not_an_error(served: Served) -> None:
    _is_error(served.call("GET", "/api/v1/portals/9223372036854775807/token"), 404, "not_found")


def test_an_unexpected_failure_is_a_counted_json_500(served: Served) -> None:
    before = _counted("boom", 500)
    _is_error(served.call("GET", "/api/v1/boom"), 500, "internal_error")
    assert "a bug" not in served.call("GET", "/api/v1/boom").text
    assert _counted("boom", 500) == before + 2
    before = _counted("unmatched", 404)
    served.call("GET", "/api/v1/nope")
    assert _counted("unmatched", 404) == before + 1


def test_the_document_is_generated_from_the_code(served: Served) -> None:
    doc = served.call("GET", "/api/v1/openapi.json", key=None).json()
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    assert schemas["PortalStatus"]["enum"] == [s.value for s in PortalStatus]  # uninstalled included
    assert schemas["ErrorBody"]["required"] == ["error", "message"]
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            for status in ("400", "401", "404", "405", "429", "500", "503"):
                assert operation["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"}, (path, status)
            assert "422" not in operation["responses"]
    hub = doc["paths"]["/api/v1/portals/{hub_id}/token"]["get"]["parameters"][0]["schema"]
    assert (hub["minimum"], hub["maximum"]) == (1, 2**63 - 1)


def test_schemathesis_finds_no_5xx_and_every_response_conforms(served: Served) -> None:
    served.app.router.routes[0] = api_route(build_api())  # the document without the test's /boom
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", served.app)
    failures: list[str] = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            for key in (served.key, None):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                response = case.call(headers=headers)
                try:
                    case.validate_response(response, checks=None)
                except Exception as exc:  # collected: one report for every operation
                    failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:300]}")
                assert response.status_code < 500

        run()
    assert not failures, failures[:5]


def test_the_timeline_route_pages_scopes_and_refuses_bad_input(served: Served, ctx: AppContext,
                                                              sandbox: SandboxServer) -> None:
    """GET /api/v1/portals/{hub_id}/timeline: newest first, paged with ``before``, only the key's portals."""
    (other,) = seed_portals(ctx, sandbox.url, 1, due=False)
    key = api_keys.create_key(ctx, actor=ADMIN, name="one-portal", hub_ids=[served.hub]).key
    first = served.call("GET", f"/api/v1/portals/{served.hub}/timeline?limit=1", key=key)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store", first.text
    body = first.json()
    assert body["hub_id"] == served.hub and len(body["events"]) == 1
    assert body["next_before"] == body["events"][0]["id"]
    older = served.call("GET", f"/api/v1/portals/{served.hub}/timeline?before={body['next_before']}", key=key)
    events = older.json()["events"]
    assert events and events[0]["id"] < body["next_before"]
    assert {"at", "kind", "outcome", "http_status", "hubspot_status", "correlation_id"} <= set(events[0])
    _is_error(served.call("GET", f"/api/v1/portals/{other}/timeline", key=key), 404, "not_found")
    for bad in ("limit=0", "limit=%EF%BC%91", "since=later", "since=999999d", "before=" + "9" * 40):
        resp = served.call("GET", f"/api/v1/portals/{served.hub}/timeline?{bad}", key=key)
        assert resp.status_code == 400 and resp.json().keys() == {"error", "message"}, (bad, resp.text)
