"""Issue #10: never drop a token HubSpot issued, whatever the database does after HubSpot answered.

A sweep runs with strict refresh-token rotation while the database, once the first grants are under way,
refuses writes in one of three ways, each produced by SQLite itself on a real file:

* locked: another connection holds the write lock (``BEGIN IMMEDIATE``) past the busy timeout;
* read-only: the sweep's connections are switched to ``PRAGMA query_only`` (SQLITE_READONLY, the error a
  read-only file gives);
* full: the database lives on a small tmpfs that a filler file has filled (SQLITE_FULL, a real ENOSPC);
  needs root to mount, skipped otherwise.

The refreshes in flight retry their store, then spill the new tokens to the journal; after the fault clears,
the next sweep replays the journal first. Then every stored refresh token is the live one (0 lost), and
every grant the sandbox counted has exactly one audit event.
"""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from dashboard import repository
from dashboard.context import AppContext, build_context
from dashboard.errors import StorageError
from dashboard.refresh import journal
from dashboard.refresh import service as refresh
from dashboard.security import vault
from tests.utils.disk import fill, small_tmpfs
from tests.utils.lifecycle import ADMIN, FAST_RETRY, sandbox_get, sandbox_post
from tests.utils.seeding import seed_portals

PORTALS = 20
Fault = Callable[[AppContext, Path], Any]


@contextmanager
def locked(ctx: AppContext, db_file: Path) -> Iterator[None]:
    conn = sqlite3.connect(db_file, timeout=5, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@contextmanager
def read_only(ctx: AppContext, db_file: Path) -> Iterator[None]:
    def on_checkout(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")

    def on_checkin(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=OFF")

    event.listen(ctx.engine, "checkout", on_checkout)
    event.listen(ctx.engine, "checkin", on_checkin)
    try:
        yield
    finally:
        event.remove(ctx.engine, "checkout", on_checkout)


@contextmanager
def full(ctx: AppContext, db_file: Path) -> Iterator[None]:
    filler = fill(db_file.parent)
    try:
        yield
    finally:
        filler.unlink()


@pytest.fixture
def db_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """Where the database file lives: a 16 MB tmpfs for the "full" case, else the test's folder."""
    if request.node.callspec.params["fault"] is not full:
        yield tmp_path
        return
    with small_tmpfs(tmp_path) as mnt:
        yield mnt


def live_refresh_tokens(sandbox: Any) -> dict[int, str]:
    return {t["hub_id"]: t["token"] for t in sandbox_get(sandbox, "/_sandbox/tokens")["tokens"]
            if t["kind"] == "refresh" and t["active"]}


@pytest.mark.parametrize("fault", [locked, read_only, full], ids=["locked", "read-only", "full"])
def test_a_database_fault_during_a_sweep_loses_no_rotated_token(
    fault: Fault, db_dir: Path, settings_factory: Any, sandbox: Any,
) -> None:
    db_file = db_dir / "dashboard.db"
    url = f"sqlite:///{db_file}"
    # Seeding writes from 8 threads: it gets the default busy timeout, so a loaded machine cannot fail it
    # before the fault; the sweep under test then runs with a short one, so the fault bites quickly.
    seeding = settings_factory(dashboard_database_url=url)  # one key for both contexts
    seeder = build_context(seeding, sandbox_url=sandbox.url)
    try:
        hubs = seed_portals(seeder, sandbox.url, PORTALS)
    finally:
        seeder.close()
    settings = seeding.model_copy(update={"dashboard_sqlite_busy_timeout_ms": 300})
    ctx = build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        sandbox_post(sandbox, "/_sandbox/config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0,
                                                   "latency_ms": 300})
        outcomes: list[refresh.RefreshOutcome] = []
        sweep = threading.Thread(target=lambda: outcomes.extend(refresh.refresh_due(ctx, concurrency=8, actor=ADMIN)))
        sweep.start()
        while sandbox_get(sandbox, "/_sandbox/stats")["token_requests"]["refresh_token"] == 0:
            time.sleep(0.01)
        with fault(ctx, db_file):  # the first grants are at HubSpot: their answers meet the fault
            sweep.join(timeout=60)
            assert not sweep.is_alive(), "the sweep did not end while the database refused writes"
            with pytest.raises(StorageError) as info:  # the page's "Refresh now" meanwhile: one line, no SQL
                refresh.refresh_portal(ctx, hubs[-1], force=True, actor=ADMIN)
        message = str(info.value)
        assert "\n" not in message and "UPDATE" not in message.upper() and "portal" not in message.lower()

        journaled = [o.hub_id for o in outcomes if o.result == "journaled"]
        assert journaled, f"no grant met the fault: {outcomes}"
        assert journal.size(ctx) == len(journaled)
        assert stat.S_IMODE(journal.path(ctx).stat().st_mode) == 0o600
        text = journal.path(ctx).read_text()
        assert not any(token in text for token in live_refresh_tokens(sandbox).values())  # sealed, never plain

        sandbox_post(sandbox, "/_sandbox/config", {"latency_ms": 0})
        second = refresh.refresh_due(ctx, concurrency=8, actor=ADMIN)  # replays the journal first
        assert journal.size(ctx) == 0 and not journal.path(ctx).exists()
        assert not set(journaled) & {o.hub_id for o in second if o.result == "refreshed"}

        live = live_refresh_tokens(sandbox)
        with ctx.session() as session:
            stored = {h: vault.open_tokens(ctx.cipher, p).refresh_token
                      for h in hubs if (p := repository.get_portal(session=session, hub_id=h)) is not None}
            events = repository.list_audit_events(session=session, action="refresh", limit=10_000)
        lost = [h for h in hubs if stored[h] != live[h]]
        stats = sandbox_get(sandbox, "/_sandbox/stats")
        grants = stats["token_requests"]["refresh_token"]
        print(f"\n{fault.__name__}: first={sorted(o.result for o in outcomes)} journaled={len(journaled)} "
              f"lost={len(lost)} grants={grants} "
              f"audit={len(events)} invalid_grant={stats['errors'].get('invalid_grant', 0)}")
        assert lost == []
        assert len([e for e in events if e.outcome in ("success", "conflict")]) == grants
        assert stats["errors"].get("invalid_grant", 0) == 0
    finally:
        sandbox_post(sandbox, "/_sandbox/reset", {})
        ctx.close()


def test_a_journal_that_cannot_be_written_is_logged_critical_with_the_hub_only(
    settings_factory: Any, sandbox: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data folder should be")
    ctx = build_context(settings_factory(dashboard_data_dir=blocked), sandbox_url=sandbox.url)
    entry = journal.Entry(4242, 1, {"access_token_ct": "c1", "refresh_token_ct": "c2"}, "system", "detail")
    try:
        assert journal.append(ctx, entry) is False
    finally:
        ctx.close()
    [record] = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert "4242" in record.getMessage() and "c2" not in record.getMessage()


def test_replay_stores_an_entry_at_its_version_and_drops_one_a_newer_row_superseded(
    ctx: AppContext, sandbox: Any,
) -> None:
    first, second = seed_portals(ctx, sandbox.url, 2, due=False)
    with ctx.session() as session:
        rows = {h: repository.get_portal(session=session, hub_id=h) for h in (first, second)}
    pair = vault.TokenPair("access-from-the-journal", "refresh-from-the-journal")
    values = {**vault.seal(ctx.cipher, first, pair, app=ctx.app_id), "last_refresh_result": "success"}
    current = rows[first]
    stale = rows[second]
    assert current is not None and stale is not None
    assert journal.append(ctx, journal.Entry(first, current.token_version, values, "worker", "expires_in=1800s"))
    stale_values = {**vault.seal(ctx.cipher, second, pair, app=ctx.app_id), "last_refresh_result": "success"}
    assert journal.append(ctx, journal.Entry(second, stale.token_version - 1, stale_values, "worker", "x"))
    assert journal.size(ctx) == 2

    assert journal.replay(ctx) == 1
    assert journal.size(ctx) == 0
    with ctx.session() as session:
        stored = repository.get_portal(session=session, hub_id=first)
        kept = repository.get_portal(session=session, hub_id=second)
        events = repository.list_audit_events(session=session, action="refresh")
    assert stored is not None and stored.token_version == current.token_version + 1
    assert vault.open_tokens(ctx.cipher, stored) == pair
    assert kept is not None and kept.token_version == stale.token_version  # the newer row won
    assert sorted((e.hub_id, e.outcome) for e in events) == sorted([(first, "success"), (second, "conflict")])
    assert all("spill journal" in e.detail for e in events)


def test_replay_while_the_database_still_refuses_keeps_every_entry(
    settings_factory: Any, sandbox: Any, tmp_path: Path,
) -> None:
    ctx = build_context(settings_factory(dashboard_sqlite_busy_timeout_ms=200), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    try:
        hubs = seed_portals(ctx, sandbox.url, 3, due=False)
        with ctx.session() as session:
            versions = {h: p.token_version for h in hubs if (p := repository.get_portal(session=session, hub_id=h))}
        for hub in hubs:
            sealed = vault.seal(ctx.cipher, hub, vault.TokenPair(f"a-{hub}", f"r-{hub}"), app=ctx.app_id)
            assert journal.append(ctx, journal.Entry(hub, versions[hub], sealed, "worker", "d"))
        db_file = Path(ctx.settings.dashboard_database_url.removeprefix("sqlite:///"))
        with locked(ctx, db_file), pytest.raises(StorageError, match="3 refreshed token"):
            journal.replay(ctx)
        assert journal.size(ctx) == 3
        assert journal.replay(ctx) == 3 and journal.size(ctx) == 0
    finally:
        ctx.close()
