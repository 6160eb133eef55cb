"""The proxy over HTTP (its FastAPI app under uvicorn) against the sandbox over loopback: what reaches
HubSpot, what comes back, the token handling, the limits, the bad input, and the usage it counts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dashboard.context import AppContext, build_context
from dashboard.sandbox.server import SandboxServer
from dashboard.settings import Settings
from tests.proxy.conftest import CONTACTS, Api
from tests.utils.lifecycle import FAST_RETRY, sandbox_post, stats


def api_log(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sandbox.url}/_sandbox/api-log", timeout=5).json()["requests"])


def test_get_is_forwarded_with_our_token_and_nothing_of_the_callers(
        hub: int, make_api: Callable[..., Api], sandbox: SandboxServer) -> None:
    api = make_api()
    resp = api.call("GET", hub, CONTACTS + "?limit=2&properties=email", headers={
        "Cookie": "session=secret", "X-Secret": "1", "Connection": "x-secret", "Proxy-Authorization": "Basic x",
        "X-Forwarded-For": "10.0.0.1", "Accept": "application/json"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["results"]) == 2 and set(body["results"][0]["properties"]) == {"email"}
    assert resp.headers["x-hubspot-ratelimit-max"] == "110"
    assert "set-cookie" not in resp.headers and resp.headers["cache-control"] == "no-store"
    (seen,) = api_log(sandbox)
    assert seen["authorization"] == "issued" and seen["query"] == "limit=2&properties=email"
    assert not {"cookie", "x-secret", "proxy-authorization", "x-forwarded-for"} & set(seen["header_names"])


@pytest.mark.parametrize("tail", ["/crm/%2e%2e/oauth/v1/token", "/crm%2Fv3%2Fobjects", "/http:%2F%2Fevil.test/x",
                                  "/crm/v3/%252e%252e/x", "/crm%5cv3", "//evil.test/x", "/"])
def test_bad_paths_answer_400_and_send_nothing(hub: int, make_api: Callable[..., Api], sandbox: SandboxServer,
                                               tail: str) -> None:
    resp = make_api().call("GET", hub, tail)
    assert resp.status_code == 400 and resp.json()["error"] == "bad_path", resp.text
    assert api_log(sandbox) == []


def test_expired_token_is_refreshed_once_and_the_call_retried_once(
        hub: int, make_api: Callable[..., Api], sandbox: SandboxServer) -> None:
    api = make_api()
    before = stats(sandbox.url)["token_requests"]["refresh_token"]
    sandbox_post(sandbox, "/_sandbox/clock", {"advance": 1900})  # HubSpot says expired; our row says fresh
    resp = api.call("GET", hub, CONTACTS + "?limit=1")
    assert resp.status_code == 200, resp.text
    assert stats(sandbox.url)["token_requests"]["refresh_token"] == before + 1
    assert [r["authorization"] for r in api_log(sandbox)] == ["issued", "issued"]


def test_hubspot_429_passes_through_with_retry_after_and_pauses_the_portal(
        hub: int, make_api: Callable[..., Api], sandbox: SandboxServer) -> None:
    api = make_api()
    sandbox_post(sandbox, "/_sandbox/config", {"daily_limit": 1})
    assert api.call("GET", hub, CONTACTS).status_code == 200
    resp = api.call("GET", hub, CONTACTS)
    assert resp.status_code == 429 and resp.json()["policyName"] == "DAILY"
    assert int(resp.headers["retry-after"]) >= 1
    sent = len(api_log(sandbox))
    paused = api.call("GET", hub, CONTACTS)  # the window is full now: our own 429, HubSpot not called
    assert paused.status_code == 429 and paused.json()["error"] == "rate_limited" and "retry-after" in paused.headers
    assert len(api_log(sandbox)) == sent


def test_read_only_keys_get_403_for_writes(hub: int, make_api: Callable[..., Api], sandbox: SandboxServer) -> None:
    reader, writer = make_api(read_only=True), make_api()
    assert reader.call("GET", hub, CONTACTS + "/1").status_code == 200
    denied = reader.call("POST", hub, CONTACTS, json={"properties": {"email": "x@example.com"}})
    assert denied.status_code == 403 and denied.json()["error"] == "read_only_key"
    assert len(api_log(sandbox)) == 1
    created = writer.call("POST", hub, CONTACTS, json={"properties": {"email": "x@example.com"}})
    assert created.status_code == 201 and created.json()["properties"]["email"] == "x@example.com"


def test_bad_input_is_json_and_forwards_nothing(hub: int, make_api: Callable[..., Api], ctx: AppContext,
                                                settings_factory: Any, sandbox: SandboxServer) -> None:
    small = build_context(settings_factory(dashboard_encryption_keys=ctx.settings.dashboard_encryption_keys,
                                           dashboard_proxy_max_body_bytes=1000,
                                           dashboard_proxy_timeout_seconds=0.3),
                          sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        api = make_api(small)
        big = api.call("POST", hub, CONTACTS, content=b"x" * 5000, headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and big.json()["error"] == "body_too_large"
        assert api.call("GET", 999_999, CONTACTS).status_code == 404
        assert api.call("GET", hub, CONTACTS, key="hsd_0000000000_" + "a" * 43).status_code == 401
        assert api_log(sandbox) == []
        sandbox_post(sandbox, "/_sandbox/config", {"latency_ms": 1500})
        slow = api.call("GET", hub, CONTACTS)
        assert slow.status_code == 504 and slow.json()["error"] == "hubspot_timeout"
    finally:
        small.close()


def test_usage_counts_calls_per_portal(hub: int, make_api: Callable[..., Api], sandbox: SandboxServer) -> None:
    api = make_api()
    for _ in range(3):
        assert api.call("GET", hub, CONTACTS).status_code == 200
    assert api.call("GET", hub, CONTACTS + "/100000").status_code == 404
    resp = api.client.get(f"/api/v1/portals/{hub}/usage", headers={"Authorization": f"Bearer {api.key}"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["calls"] == 4 and body["by_status"]["2xx"] == 3 and body["by_status"]["4xx"] == 1
    assert body["error_rate"] == 0.25 and body["p95_ms"] is not None


@pytest.mark.redis
def test_a_burst_of_150_over_two_replicas_sharing_redis_draws_no_429_from_hubspot(
        hub: int, make_api: Callable[..., Api], settings_factory: Any, sandbox: SandboxServer,
        redis_url: str, redis_prefix: str, ctx: AppContext) -> None:
    """The issue's "done when": two replicas (own context, limiter and connections) share Redis."""
    def replica() -> AppContext:
        settings: Settings = settings_factory(dashboard_lock_url=redis_url, dashboard_lock_prefix=redis_prefix,
                                              dashboard_encryption_keys=ctx.settings.dashboard_encryption_keys)
        return build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)

    contexts = [replica(), replica()]
    try:
        apis = [make_api(c) for c in contexts]
        statuses: list[int] = []
        lock = threading.Lock()

        def burst(api: Api) -> None:
            for _ in range(25):  # 2 replicas x 3 threads x 25 = 150 calls
                code = api.call("GET", hub, CONTACTS + "?limit=1").status_code
                with lock:
                    statuses.append(code)

        threads = [threading.Thread(target=burst, args=(a,)) for a in apis for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(statuses) == 150
        assert stats(sandbox.url)["rate_limited"] == 0  # HubSpot never said 429
        assert 100 <= statuses.count(200) <= 110 and set(statuses) == {200, 429}
    finally:
        for c in contexts:
            c.close()
