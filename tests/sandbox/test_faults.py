"""Injected faults: latency, error statuses, hangs, malformed bodies, counts and targets."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.utils.sandbox_oauth import FREE_HUB, bearer, install, issue, refresh


def set_faults(http: httpx.Client, **rule: object) -> dict[str, object]:
    resp = http.post("/_sandbox/faults", json=rule)
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def test_latency_applies_to_the_target_only(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB)
    set_faults(http, target="token", latency_ms=300)
    started = time.perf_counter()
    assert refresh(http, token["refresh_token"]).status_code == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    http.get("/account-info/v3/details", headers=bearer(token["access_token"]))
    http.get("/_sandbox/stats")
    assert time.perf_counter() - started < 0.3  # either one delayed would take 0.3 s alone


def test_configured_latency(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB)
    http.post("/_sandbox/config", json={"latency_ms": 200})
    started = time.perf_counter()
    assert http.get("/account-info/v3/details", headers=bearer(token["access_token"])).status_code == 200
    assert time.perf_counter() - started >= 0.2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_error_status(http: httpx.Client, status: int) -> None:
    token = issue(http, FREE_HUB)
    set_faults(http, target="token", error_rate=1, error_status=status)
    resp = refresh(http, token["refresh_token"])
    assert resp.status_code == status
    assert resp.json()["status"] == "error"
    assert refresh(http, token["refresh_token"]).status_code == status
    http.delete("/_sandbox/faults")
    assert refresh(http, token["refresh_token"]).status_code == 200  # the faulted calls changed nothing


def test_429_with_and_without_retry_after(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB)
    set_faults(http, target="api", error_rate=1, error_status=429, retry_after=7)
    resp = http.get("/account-info/v3/details", headers=bearer(token["access_token"]))
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "7"
    assert resp.json()["errorType"] == "RATE_LIMIT"
    set_faults(http, target="api", error_rate=1, error_status=429)
    assert "retry-after" not in http.get("/account-info/v3/details").headers


def test_timeout_hangs_until_the_client_gives_up(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB)
    set_faults(http, target="all", timeout_rate=1, timeout_s=2, count=1)
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        http.post("/oauth/v1/token", data={"grant_type": "refresh_token"}, timeout=0.3)
    assert time.perf_counter() - started < 1.9  # the sandbox hangs for 2 s: the client gave up first
    assert http.get("/_sandbox/faults").json()["all"] is None  # count=1 spent
    assert refresh(http, token["refresh_token"]).status_code == 200


def test_malformed_body(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB)
    set_faults(http, target="token", malformed_rate=1)
    resp = refresh(http, token["refresh_token"])
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.text)


def test_count_limits_the_faulted_responses(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB, ["oauth"])
    set_faults(http, target="api", error_rate=1, error_status=503, count=2)
    codes = [
        http.get("/account-info/v3/details", headers=bearer(token["access_token"])).status_code
        for _ in range(4)
    ]
    assert codes == [503, 503, 200, 200]
    assert http.get("/_sandbox/stats").json()["faults"] == 2


def test_rates_are_probabilities(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB, ["oauth"])
    set_faults(http, target="api", error_rate=0.5, error_status=500, seed=7)
    codes = [
        http.get("/account-info/v3/details", headers=bearer(token["access_token"])).status_code
        for _ in range(60)
    ]
    assert 10 < codes.count(500) < 50
    assert set(codes) == {200, 500}


def test_specific_target_wins_over_all_and_controls_are_never_faulted(http: httpx.Client) -> None:
    token = install(http)
    set_faults(http, target="all", error_rate=1, error_status=502)
    set_faults(http, target="token", latency_ms=1)
    assert refresh(http, token["refresh_token"]).status_code == 200
    assert http.get("/account-info/v3/details", headers=bearer(token["access_token"])).status_code == 502
    assert http.get("/_sandbox/stats").status_code == 200
    assert http.get("/oauth/authorize").status_code == 400  # the install page is HubSpot's UI, not faulted
    faults = http.get("/_sandbox/faults").json()
    assert faults["token"]["latency_ms"] == 1
    assert faults["api"] is None
    assert faults["all"]["error_status"] == 502


@pytest.mark.parametrize(
    "rule",
    [
        {"target": "web"},
        {"error_rate": 2},
        {"error_status": 418},
        {"timeout_rate": 0.6, "error_rate": 0.6},
        {"count": 0},
        {"latency_ms": -1},
        {"surprise": True},
    ],
)
def test_bad_fault_rules_are_refused(http: httpx.Client, rule: dict[str, object]) -> None:
    resp = http.post("/_sandbox/faults", json=rule)
    assert resp.status_code == 400
    assert resp.json()["error"] == "bad_request"


def test_reset_clears_faults(http: httpx.Client) -> None:
    set_faults(http, target="all", error_rate=1)
    http.post("/_sandbox/reset")
    assert http.get("/_sandbox/faults").json() == {"token": None, "metadata": None, "api": None, "all": None}
