"""Issue 23 items 3 and 4: the timeline (CLI, API, bad input, retention) and uptime from transitions."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from dashboard import repository
from dashboard.lifecycle import timeline, uptime
from dashboard.models import AuditEvent, utcnow
from dashboard.refresh import service as refresh
from dashboard.ui.portal_health import strip_frame
from tests.utils.cli import cli_env, run_cli
from tests.utils.lifecycle import ADMIN, sandbox_post
from tests.utils.seeding import seed_portals


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """SQLite and PostgreSQL: uptime's SQL differs per dialect (seconds between two times)."""
    return any_db_url


def _shift_transitions(ctx: Any, hub: int, moves: list[tuple[timedelta, str, str]]) -> None:
    """Replace the portal's transitions by ``moves`` (age, from, to): a known history."""
    now = utcnow()
    with ctx.session() as session:
        session.execute(update(AuditEvent).where(col(AuditEvent.hub_id) == hub,
                                                 col(AuditEvent.action) == "transition").values(action="old"))
        for age, before, after in moves:
            repository.insert_audit_event(session=session, at=now - age, actor="t", hub_id=hub,
                                          action="transition", outcome=after, detail="test",
                                          fields={"from_state": before, "to_state": after})
        session.commit()


def test_uptime_from_transitions(ctx: Any, sandbox: Any) -> None:
    a, b, c = seed_portals(ctx, sandbox.url, 3, due=False)
    # a: failing from 6 h ago to 3 h ago -> 21/24 in 24 h; b: none in the windows -> its current state (healthy)
    _shift_transitions(ctx, a, [(timedelta(hours=6), "healthy", "failing"), (timedelta(hours=3), "failing",
                                                                             "healthy")])
    _shift_transitions(ctx, b, [])
    # c: needs re-auth from 12 h ago until a new grant 1 h ago -> 13/24
    _shift_transitions(ctx, c, [(timedelta(hours=12), "healthy", "needs_reauth"),
                                (timedelta(hours=1), "needs_reauth", "healthy")])
    shares = uptime.uptime(ctx, [a, b, c], actor=ADMIN)
    assert shares[a]["24h"] == pytest.approx(21 / 24, abs=1e-3)
    assert shares[a]["7d"] == pytest.approx(1 - 3 / (7 * 24), abs=1e-3)
    assert shares[b] == {"24h": 1.0, "7d": 1.0, "30d": 1.0}
    assert shares[c]["24h"] == pytest.approx(13 / 24, abs=1e-3)
    strip = uptime.state_strip(ctx, a, actor=ADMIN, window=timedelta(hours=24))
    assert [s.state for s in strip] == ["healthy", "failing", "healthy"]
    chart = uptime.fleet_chart(ctx, actor=ADMIN)
    assert len(chart) == 25 and chart[-1][1]["healthy"] == 3
    assert chart[0][1]["healthy"] == 3  # 24 h ago all three were healthy
    assert [p[1]["failing"] for p in chart].count(1) == 3  # the marks 5, 4 and 3 h ago (inclusive)
    assert [p[1]["needs_reauth"] for p in chart].count(1) == 11  # the marks 12 .. 2 h ago


def test_uptime_counts_only_time_since_the_first_grant(ctx: Any, sandbox: Any) -> None:
    """A portal installed 2 h ago and healthy since is 100 % up, not 2/168 of a week; one installed 10 h ago
    that failed for its last 5 h is 50 % up over every window."""
    a, b = seed_portals(ctx, sandbox.url, 2, due=False)
    _shift_transitions(ctx, a, [(timedelta(hours=2), "none", "healthy")])
    _shift_transitions(ctx, b, [(timedelta(hours=10), "none", "healthy"), (timedelta(hours=5), "healthy", "failing")])
    shares = uptime.uptime(ctx, [a, b], actor=ADMIN)
    assert shares[a] == {"24h": pytest.approx(1.0, abs=1e-3), "7d": pytest.approx(1.0, abs=1e-3),
                         "30d": pytest.approx(1.0, abs=1e-3)}
    assert all(v == pytest.approx(0.5, abs=1e-3) for v in shares[b].values())
    # The details' strip names the time before the install, not "none" (read as a problem next to a long bar).
    strip = uptime.state_strip(ctx, a, actor=ADMIN, window=timedelta(hours=24))
    assert [s.state for s in strip] == ["none", "healthy"]
    assert list(strip_frame(strip)["state"]) == ["not connected yet", "healthy"]


def test_timeline_cli_api_and_bad_input(ctx: Any, sandbox: Any, tmp_path: Any) -> None:
    [hub] = seed_portals(ctx, sandbox.url, 1)
    sandbox_post(sandbox, "/_sandbox/faults", {"target": "token", "error_rate": 1.0, "error_status": 503})
    assert refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True).result == "failed"
    sandbox_post(sandbox, "/_sandbox/faults", {"target": "token", "error_rate": 0.0})
    keys = ctx.settings.dashboard_encryption_keys.get_secret_value()
    env = cli_env(DASHBOARD_DATABASE_URL=ctx.settings.dashboard_database_url, DASHBOARD_ENCRYPTION_KEYS=keys,
                  DASHBOARD_DATA_DIR=str(ctx.settings.dashboard_data_dir), DASHBOARD_SANDBOX_URL=sandbox.url)
    done = run_cli("timeline", "--hub-id", str(hub), "--json", "--since", "1h", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["transition", "refresh"] and "import" in kinds  # newest first
    failed = events[1]
    assert (failed["outcome"], failed["http_status"], failed["hubspot_status"]) == ("failure", 503, "error")
    assert {"at", "kind", "outcome", "correlation_id", "duration_ms", "attempt"} <= set(failed)
    assert events[0]["from_state"] == "healthy" and events[0]["to_state"] == "failing"
    for bad in (["--hub-id", "x1"], ["--hub-id", "0"], ["--hub-id", "9" * 50], ["--hub-id", "１２"],
                ["--hub-id", str(hub), "--since", "yesterday"], ["--hub-id", str(hub), "--limit", "0"]):
        done = run_cli("timeline", *bad, env=env, cwd=tmp_path)
        assert done.returncode == 2, (bad, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    done = run_cli("health", "--json", env=env, cwd=tmp_path)
    assert json.loads(done.stdout)["hubspot"] == {"degraded": False, "since": None, "reason": None}


def test_retention_prunes_in_bounded_batches(ctx: Any, sandbox: Any) -> None:
    [hub] = seed_portals(ctx, sandbox.url, 1, due=False)
    old = utcnow() - timedelta(days=31)
    with ctx.session() as session:
        for _ in range(25):
            repository.insert_audit_event(session=session, at=old, actor="t", hub_id=hub, action="refresh",
                                          outcome="success", detail="")
        session.commit()
    assert timeline.prune(ctx, batch=10, batches=2) == 20  # bounded: the rest waits for the next pass
    assert timeline.prune(ctx, batch=10, batches=2) == 5
    assert timeline.portal_timeline(ctx, hub, actor=ADMIN, limit=500)  # the recent ones stay


def test_kept_answer_is_safe_text() -> None:
    from dashboard.hubspot.answers import kept_answer

    huge = b"<html>" + b"\x1b[2J" + b"A" * 10_000 + b" Bearer abc.def"
    answer = kept_answer(502, huge)
    assert answer.body is not None and len(answer.body) <= 2048 and "\x1b" not in answer.body
    token = "CKHx" + "a1b2c3d4" * 6
    answer = kept_answer(400, json.dumps({"status": "BAD_REFRESH_TOKEN", "message": f"bad token {token}",
                                          "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf"}).encode())
    assert answer.message is not None and token not in answer.message and "[redacted]" in answer.message
    assert answer.correlation_id == "aeb5f871-7f07-4993-9211-075dc63e7cbf"
