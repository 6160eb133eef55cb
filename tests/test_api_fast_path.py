"""``GET /api/v1/portals/{hub_id}/token`` answered without FastAPI's routing (the hot path) is the FastAPI route.

The same requests go to the API as the ``st.App`` serves it (``api_route``: the hot path) and to the FastAPI
app alone (its declared route, the one the OpenAPI document describes): status, error body and the headers
a client reads must agree for every outcome, and both are counted under ``token`` in ``/metrics``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp

from dashboard.admin import api_keys
from dashboard.context import AppContext
from dashboard.ops import metrics
from dashboard.sandbox import SandboxServer
from dashboard.web.api import api_route, build_api
from dashboard.web.runtime import set_shared_context
from tests.utils.lifecycle import ADMIN, install_portal

_HEADERS = ("content-type", "cache-control", "pragma", "www-authenticate", "retry-after")


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def shared(ctx: AppContext) -> Iterator[AppContext]:
    set_shared_context(ctx)
    try:
        yield ctx
    finally:
        set_shared_context(None)


def _get(app: ASGIApp, path: str, authorization: str | None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            headers = {"Authorization": authorization} if authorization is not None else {}
            return await client.get(path, headers=headers)

    return asyncio.run(go())


def _token_count() -> float:
    text = metrics.render(None).decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "dashboard_token_api_requests_total" and s.labels.get("endpoint") == "token")


def _shape(resp: httpx.Response) -> tuple[int, Any, dict[str, str]]:
    body = resp.json()
    if resp.status_code == 200:  # the token itself: the same one; expires_in may differ by the second
        body = {k: v for k, v in body.items() if k != "expires_in"} | {"expires_in": type(body["expires_in"])}
    return resp.status_code, body, {h: resp.headers[h] for h in _HEADERS if h in resp.headers}


def test_the_hot_path_answers_as_the_fastapi_route_for_every_outcome(shared: AppContext,
                                                                     sandbox: SandboxServer) -> None:
    ctx = shared
    mine, other = install_portal(ctx, sandbox.url).hub_id, install_portal(ctx, sandbox.url).hub_id
    admin_key = api_keys.create_key(ctx, actor=ADMIN, name="every-portal").key
    one_portal = api_keys.create_key(ctx, actor=ADMIN, name="one-portal", hub_ids=[mine]).key
    revoked = api_keys.create_key(ctx, actor=ADMIN, name="revoked")
    api_keys.revoke_key(ctx, actor=ADMIN, prefix=revoked.info.prefix)
    api = build_api()
    served, alone = api_route(api), api  # the st.App's way in (hot path) and FastAPI's own route
    cases: list[tuple[int, str | None]] = [
        (mine, f"Bearer {admin_key}"), (mine, f"Bearer {one_portal}"), (other, f"Bearer {one_portal}"),
        (424242, f"Bearer {admin_key}"), (2**63 - 1, f"Bearer {admin_key}"), (mine, None), (mine, "Basic abc"),
        (mine, "Bearer not-a-key"), (mine, f"Bearer {revoked.key}"), (mine, f"Bearer {admin_key[:-4]}AAAA"),
    ]
    before = _token_count()
    for hub, authorization in cases:
        path = f"/api/v1/portals/{hub}/token"
        hot, declared = _get(served, path, authorization), _get(alone, path, authorization)
        assert _shape(hot) == _shape(declared), (hub, authorization and authorization[:12], hot.text, declared.text)
    assert _token_count() - before == len(cases)  # the hot path counts under the route's name
    statuses = {_get(served, f"/api/v1/portals/{h}/token", a).status_code for h, a in cases}
    assert statuses == {200, 401, 404}
