"""Headers every response gets (no framing), and the Host check on the ops routes under sign-in.

The routes and middleware are the ones ``streamlit_app.py`` hands to ``st.App`` (``build_routes``,
``build_middleware``), served here by Starlette's test client without a context (routes answer 503 or
refuse); ``tests/e2e/test_framing.py`` checks Streamlit's own pages, assets and websocket in Chromium.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from dashboard.security.host_rules import HOST_CHECKED_PATHS, allowed, host_listed
from dashboard.web.app import build_middleware, build_routes
from dashboard.web.frame_guard import with_frame_headers
from tests.utils.asgi import Client

ALLOWED_HOSTS = ["localhost", "127.0.0.1", "::1"]


async def boom(request: object) -> PlainTextResponse:
    raise RuntimeError("a bug in a route")


async def own_policy(request: object) -> PlainTextResponse:
    return PlainTextResponse("x", headers={"Content-Security-Policy": "default-src 'none'; frame-ancestors *",
                                           "X-Frame-Options": "ALLOWALL"})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


def client(*, sign_in: bool, hosts: list[str] | None = None) -> Client:
    extra: list[Route | WebSocketRoute] = [Route("/boom", boom), Route("/own", own_policy),
                                           WebSocketRoute("/ws", echo)]
    app = Starlette(routes=[*build_routes(), *extra], middleware=build_middleware(
        sign_in_configured=lambda: sign_in, allowed_hosts=lambda: ALLOWED_HOSTS if hosts is None else hosts))
    return Client(app)


@pytest.fixture(params=[False, True], ids=["no-sign-in", "sign-in"])
def web(request: pytest.FixtureRequest) -> Client:
    return client(sign_in=request.param)


def framing_refused(headers: Headers) -> bool:
    policy = headers.get("content-security-policy") or ""
    return headers.get("x-frame-options") == "DENY" and "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/api/v1/portals",
                                  "/connect/abc", "/no-such-path", "/boom"])
def test_every_response_forbids_framing(web: Client, path: str) -> None:
    response = web.get(path)
    assert framing_refused(response.headers), (path, response.status, dict(response.headers))


def test_refusals_forbid_framing_too() -> None:
    refused = client(sign_in=False).get("/healthz", host="rebind.attacker.test:8501")
    assert refused.status == 403 and framing_refused(refused.headers)


def test_a_route_with_its_own_policy_keeps_it_and_cannot_allow_framing(web: Client) -> None:
    response = web.get("/own")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert len(response.headers.getlist("content-security-policy")) == 1


def test_a_websocket_handshake_forbids_framing(web: Client) -> None:
    answer = web.websocket("/ws")
    assert answer["type"] == "websocket.accept"
    accepted = dict(answer["headers"])
    assert accepted.get(b"x-frame-options") == b"DENY"
    assert accepted.get(b"content-security-policy") == b"frame-ancestors 'none'"


@given(st.lists(st.tuples(st.sampled_from([b"content-security-policy", b"x-frame-options", b"content-type"]),
                          st.binary(max_size=30).filter(lambda b: b";" in b or b"frame" in b or b))))
def test_with_frame_headers_always_ends_with_one_deny_and_no_framing(headers: list[tuple[bytes, bytes]]) -> None:
    out = with_frame_headers(headers)
    assert [v for n, v in out if n.lower() == b"x-frame-options"] == [b"DENY"]
    for name, value in out:
        if name.lower() == b"content-security-policy":
            assert value.endswith(b"frame-ancestors 'none'") and value.count(b"frame-ancestors") == 1


@pytest.mark.parametrize("path", sorted(HOST_CHECKED_PATHS))
def test_ops_routes_under_sign_in_answer_only_to_allowed_host_names(path: str) -> None:
    c = client(sign_in=True)
    rebound = c.get(path, host="rebind.attacker.test:8501")
    own = c.get(path, host="localhost:8501")
    assert rebound.status == 403 and "allowedHosts" in rebound.text
    assert own.status != 403 or "allowedHosts" not in own.text


def test_a_real_name_listed_in_allowed_hosts_reaches_the_ops_routes() -> None:
    c = client(sign_in=True, hosts=["dash.example.com"])
    assert "allowedHosts" not in c.get("/readyz", host="dash.example.com").text
    assert c.get("/readyz", host="localhost:8501").status == 403


def test_the_host_rule_for_ops_routes() -> None:
    assert host_listed("dash.example.com:443", ["*.example.com"]) and host_listed("LOCALHOST:1", [])
    assert not host_listed("evil.test", []) and not host_listed(None, ["*"]) and host_listed("a.b", ["*"])
    assert allowed(kind="http", host="rebind.attacker.test", origin=None, port=1, sign_in=True,
                   path="/readyz", allowed_hosts=ALLOWED_HOSTS) is not None
    # Other routes under sign-in are authenticated (pages) or keyed (the API): no Host list applies.
    assert allowed(kind="http", host="rebind.attacker.test", origin=None, port=1, sign_in=True,
                   path="/api/v1/portals", allowed_hosts=ALLOWED_HOSTS) is None
