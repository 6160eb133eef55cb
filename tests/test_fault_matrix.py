"""Fault matrix: every sandbox fault during a sweep. No token lost, no duplicate refresh, statuses and audit right.

Rotation is on throughout, so a lost or duplicated refresh would show as a dead stored refresh token.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from dashboard import repository
from dashboard.connections import service as connections
from dashboard.context import AppContext, build_context
from dashboard.models import PortalStatus, utcnow
from dashboard.refresh import service as refresh
from dashboard.security import vault
from tests.utils.lifecycle import ADMIN, FAST_RETRY, add_accounts, control, install_portal, sandbox_tokens, stats

PORTALS = 6


def _seed(ctx: AppContext, sandbox_url: str) -> list[int]:
    hubs = [install_portal(ctx, sandbox_url, account_id=h).hub_id for h in add_accounts(sandbox_url, PORTALS)]
    _make_due(ctx, hubs)
    return hubs


def _make_due(ctx: AppContext, hubs: list[int]) -> None:
    with ctx.session() as s:
        for hub in hubs:
            repository.update_portal(session=s, hub_id=hub, values={
                "expires_at": utcnow() + timedelta(seconds=10), "next_attempt_at": None})
        s.commit()


def _assert_no_token_lost(ctx: AppContext, sandbox_url: str, hubs: list[int]) -> None:
    live = {t["token"] for t in sandbox_tokens(sandbox_url) if t["kind"] == "refresh" and t["active"]}
    with ctx.session() as s:
        for hub in hubs:
            portal = repository.get_portal(session=s, hub_id=hub)
            assert portal is not None
            assert vault.open_tokens(ctx.cipher, portal).refresh_token in live, f"hub {hub} lost its refresh token"


def _assert_no_duplicates(sandbox_url: str) -> None:
    per_hub = stats(sandbox_url)["refresh_by_hub"]
    assert all(n <= 1 for n in per_hub.values()), per_hub
    assert stats(sandbox_url)["errors"].get("invalid_grant", 0) == 0


FAULTS: dict[str, dict[str, Any]] = {
    "latency_spike": {"latency_ms": 400},
    "429_storm": {"error_rate": 1.0, "error_status": 429, "retry_after": 0},
    "5xx_burst": {"error_rate": 1.0, "error_status": 502},
    "timeouts": {"timeout_rate": 1.0},
    "malformed_json": {"malformed_rate": 1.0},
    "half_errors": {"error_rate": 0.5, "error_status": 503},
}


@pytest.fixture
def fctx(settings_factory: Any, sandbox: Any) -> Any:
    # A fault on every portal trips the outage breaker (issue 23): the healing sweep then starts with its
    # probe, due here after 0.5 s instead of 30 s.
    settings = settings_factory(dashboard_http_timeout_seconds=1.0, dashboard_token_timeout_seconds=1.0,
                                dashboard_breaker_probe_seconds=0.5)
    ctx = build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)
    control(sandbox.url, "config", {"rotate_refresh_tokens": True})
    yield ctx
    ctx.close()


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_during_sweep(fctx: AppContext, sandbox: Any, name: str) -> None:
    hubs = _seed(fctx, sandbox.url)
    control(sandbox.url, "faults", {"target": "token", **FAULTS[name]})
    outcomes = {o.hub_id: o for o in refresh.refresh_due(fctx, concurrency=4, actor=ADMIN)}
    assert set(outcomes) == set(hubs)
    _assert_no_token_lost(fctx, sandbox.url, hubs)
    _assert_no_duplicates(sandbox.url)
    conns = {c.hub_id: c for c in connections.list_connections(fctx, actor=ADMIN)}
    with fctx.session() as s:
        audits = repository.list_audit_events(session=s, action="refresh")
    for hub, outcome in outcomes.items():
        if outcome.result == "refreshed":
            assert conns[hub].status == "healthy"
        elif outcome.result == "deferred":  # HubSpot looked degraded: left for the breaker's probe, untouched
            continue
        else:
            assert outcome.result == "failed"
            assert conns[hub].status == "refresh_failing" and conns[hub].consecutive_failures == 1
            assert conns[hub].last_error and "Traceback" not in conns[hub].last_error
            assert any(e.hub_id == hub and e.outcome == "failure" for e in audits)
    if name == "latency_spike":
        assert all(o.result == "refreshed" for o in outcomes.values())
    elif name != "half_errors":
        assert all(o.result in ("failed", "deferred") for o in outcomes.values())
    # The fault clears; the next sweep (once backoff is over) heals every portal, still without duplicates.
    control(sandbox.url, "faults", {"target": "token"})
    failed = [h for h, o in outcomes.items() if o.result != "refreshed"]
    _make_due(fctx, failed)
    time.sleep(0.6)  # the breaker's probe period
    healed = refresh.refresh_due(fctx, concurrency=4, actor=ADMIN)
    assert {o.hub_id for o in healed} == set(failed)
    assert all(o.result == "refreshed" for o in healed)
    assert {c.status for c in connections.list_connections(fctx, actor=ADMIN)} == {"healthy"}
    _assert_no_token_lost(fctx, sandbox.url, hubs)
    _assert_no_duplicates(sandbox.url)


def test_sandbox_unreachable_then_back(settings_factory: Any, sandbox: Any) -> None:
    """HubSpot down: connection refused. Tokens intact, statuses failing; back up: everything heals."""
    settings = settings_factory(dashboard_http_timeout_seconds=1.0, dashboard_token_timeout_seconds=1.0,
                                dashboard_breaker_probe_seconds=0.5)
    up = build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)
    down = build_context(settings, sandbox_url="http://127.0.0.1:9", retry=FAST_RETRY)  # discard port: refused
    try:
        hubs = _seed(up, sandbox.url)
        outcomes = refresh.refresh_due(down, concurrency=4, actor=ADMIN)
        # Once enough portals fail, HubSpot counts as degraded and the rest of the pass waits for the probe.
        results = {o.result for o in outcomes}
        assert "failed" in results and results <= {"failed", "deferred"}
        failed = {o.hub_id for o in outcomes if o.result == "failed"}
        assert all("cannot reach HubSpot" in o.message for o in outcomes if o.result == "failed")
        shown = {c.hub_id: c.status for c in connections.list_connections(up, actor=ADMIN)}
        assert {shown[h] for h in failed} == {PortalStatus.REFRESH_FAILING}
        _assert_no_token_lost(up, sandbox.url, hubs)
        _make_due(up, hubs)
        time.sleep(0.6)  # HubSpot looked down: the breaker's probe goes first, after its period
        assert {o.result for o in refresh.refresh_due(up, concurrency=4, actor=ADMIN)} == {"refreshed"}
        _assert_no_token_lost(up, sandbox.url, hubs)
        _assert_no_duplicates(sandbox.url)
    finally:
        up.close()
        down.close()
