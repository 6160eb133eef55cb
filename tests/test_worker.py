"""The refresh worker loop: heartbeats, the sweep status the pages show, database faults, prompt stops."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import repository
from dashboard.context import AppContext
from dashboard.models import utcnow
from dashboard.refresh import worker
from dashboard.sandbox import SandboxServer
from tests.utils.cli import cli_env, run_cli
from tests.utils.lifecycle import ADMIN, install_portal, sandbox_post


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """On SQLite and on PostgreSQL."""
    return any_db_url

@given(errors=st.integers(0, 200), interval=st.floats(0.2, 3600))
@settings(max_examples=300, deadline=None)
def test_error_backoff_is_bounded_and_grows(errors: int, interval: float) -> None:
    wait = worker.error_backoff(errors, interval)
    assert min(interval, 0.5) <= wait <= max(worker.MAX_ERROR_BACKOFF, interval)
    assert worker.error_backoff(errors + 1, interval) >= wait


def test_a_pass_writes_the_heartbeat_and_the_status_line(ctx: AppContext, sandbox: SandboxServer) -> None:
    sandbox_post(sandbox, "/_sandbox/config", {"access_token_ttl": 60})  # inside the 300 s leeway: due
    hub = install_portal(ctx, sandbox.url).hub_id
    w = worker.RefreshWorker(ctx, kind="cli", interval=5)
    result = w.run(threading.Event(), once=True)
    assert [(o.hub_id, o.result) for o in result.outcomes] == [(hub, "refreshed")]
    status = worker.sweep_status(ctx, actor=ADMIN)
    assert status.healthy and status.message.startswith("Last sweep ") and w.worker_id in status.message
    [view] = status.workers
    assert (view.kind, view.pid, view.total_refreshed, view.last_failures) == ("cli", os.getpid(), 1, 0)
    assert view.stopped_at is not None
    late = worker.sweep_status(ctx, actor=ADMIN, now=utcnow() + timedelta(seconds=12))
    assert not late.healthy and "twice its interval" in late.message and w.worker_id in late.message
    # The worker acts as itself (operator: it may refresh, never revoke), named in the audit log.
    assert w.actor.name == f"worker:{w.worker_id}" and w.actor.can("refresh") and not w.actor.can("revoke")
    with ctx.session() as s:
        refreshes = repository.list_audit_events(session=s, hub_id=hub, action="refresh")
    assert [e.actor for e in refreshes] == [w.actor.name]


def test_no_worker_at_all_is_a_warning(ctx: AppContext) -> None:
    status = worker.sweep_status(ctx, actor=ADMIN)
    assert not status.healthy and "No refresh worker has swept yet" in status.message


def test_a_worker_before_its_first_sweep_is_starting_not_missing(ctx: AppContext) -> None:
    """Right after start-up (issue 28): a worker that started and has not swept yet is no alarm until twice
    its interval has passed; then the warning is back."""
    w = worker.RefreshWorker(ctx, kind="embedded", interval=30)
    w._start_row()  # what run() writes before its first pass
    status = worker.sweep_status(ctx, actor=ADMIN)
    assert status.healthy and status.starting, status.message
    assert status.message.startswith("The embedded worker is starting its first sweep")
    later = worker.sweep_status(ctx, actor=ADMIN, now=utcnow() + timedelta(seconds=62))
    assert not later.healthy and not later.starting and "No refresh worker has swept yet" in later.message


def test_the_loop_survives_a_database_that_goes_away_and_stops_promptly(ctx: AppContext, tmp_path: Path) -> None:
    results: list[worker.PassResult] = []
    seen = threading.Condition()

    def on_pass(result: worker.PassResult) -> None:
        with seen:
            results.append(result)
            seen.notify_all()

    def wait_for(count: int) -> None:
        with seen:
            assert seen.wait_for(lambda: len(results) >= count, timeout=30), results

    if not ctx.settings.dashboard_database_url.startswith("sqlite"):
        pytest.skip("moves the SQLite file away")
    db = Path(ctx.settings.dashboard_database_url.removeprefix("sqlite:///"))
    files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    w = worker.RefreshWorker(ctx, kind="cli", interval=0.2, on_pass=on_pass)
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,))
    thread.start()
    try:
        wait_for(1)
        # The database file is moved away (a new empty one appears in its place: no tables).
        ctx.engine.dispose()
        for f in files:
            if f.exists():
                f.rename(tmp_path / f"moved-{f.name}")
        ok_before = len(results)
        wait_for(ok_before + 2)
        failed = [r for r in results[ok_before:] if r.error]
        assert failed and thread.is_alive()
        # One line naming the problem: no SQL, no values.
        assert all(r.error and r.error.startswith("the database ") and "\n" not in r.error
                   and "SELECT" not in r.error.upper() for r in failed)
        ctx.engine.dispose()
        for f in files:
            f.unlink(missing_ok=True)
            moved = tmp_path / f"moved-{f.name}"
            if moved.exists():
                moved.rename(f)
        # Backoff after two errors is at most 0.8 s here; the next pass succeeds again.
        deadline = time.monotonic() + 30
        while not (results[-1].error is None and len(results) > ok_before + len(failed)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        stop.set()
        started = time.monotonic()
        thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 5


def test_workers_command_lists_the_worker(ctx: AppContext, tmp_path: Path) -> None:
    env = cli_env(DASHBOARD_DATABASE_URL=ctx.settings.dashboard_database_url,
                  DASHBOARD_DATA_DIR=str(tmp_path / "data"))
    done = run_cli("workers", env=env, cwd=tmp_path)
    assert done.returncode == 1 and "No refresh worker has swept yet" in done.stdout, done.stderr
    w = worker.RefreshWorker(ctx, kind="embedded", interval=30)
    w.run(threading.Event(), once=True)
    done = run_cli("workers", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert w.worker_id in done.stdout and "stopped" in done.stdout and "Last sweep" in done.stdout
