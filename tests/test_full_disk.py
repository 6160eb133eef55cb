"""Issue 22 item 2: a full disk in the default layout, where the database and the spill journal share it.

The journal append used to fail on the same full disk (logged critical) while the pass still reported the
tokens "journaled": with strict rotation they were lost. Now each journal folder keeps a preallocated reserve
that an append on a full disk gives back, a failed append never leaves a torn line, ``DASHBOARD_SPILL_DIR``
is a second place, and when every place refuses the tokens are held in memory (``unsaved``): the lease is
kept, no new refresh starts, ``/readyz`` fails its ``tokens`` check, an alert goes out, and every pass
retries until a store succeeds. The disk is a real 16 MB tmpfs (root needed to mount it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from dashboard import repository
from dashboard.context import AppContext, build_context
from dashboard.errors import StorageError
from dashboard.ops import health
from dashboard.refresh import journal, worker
from dashboard.refresh import service as refresh
from dashboard.security import vault
from tests.utils.disk import fill, small_tmpfs
from tests.utils.lifecycle import ADMIN, FAST_RETRY, sandbox_get, sandbox_post
from tests.utils.seeding import seed_portals

PORTALS = 20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path) as mnt:
        yield mnt


def _lost(ctx: AppContext, sandbox: Any, hubs: list[int]) -> list[int]:
    live = {t["hub_id"]: t["token"] for t in sandbox_get(sandbox, "/_sandbox/tokens")["tokens"]
            if t["kind"] == "refresh" and t["active"]}
    with ctx.session() as session:
        stored = {h: vault.open_tokens(ctx.cipher, p).refresh_token
                  for h in hubs if (p := repository.get_portal(session=session, hub_id=h)) is not None}
    return [h for h in hubs if stored[h] != live[h]]


def _sweep_meeting(ctx: AppContext, sandbox: Any, fault: Any) -> list[refresh.RefreshOutcome]:
    """A sweep whose first grants are at HubSpot when ``fault()`` strikes; its outcomes."""
    outcomes: list[refresh.RefreshOutcome] = []
    sweep = threading.Thread(target=lambda: outcomes.extend(refresh.refresh_due(ctx, concurrency=8, actor=ADMIN)))
    sweep.start()
    deadline = time.monotonic() + 30
    while sandbox_get(sandbox, "/_sandbox/stats")["token_requests"]["refresh_token"] == 0:
        assert time.monotonic() < deadline, "no grant started"
        time.sleep(0.01)
    fault()
    sweep.join(timeout=90)
    assert not sweep.is_alive()
    return outcomes


def test_a_full_disk_shared_by_the_database_and_the_journal_loses_no_rotated_token(
    small_disk: Path, settings_factory: Any, sandbox: Any,
) -> None:
    data = small_disk / "data"  # the default layout: data/dashboard.db beside data/token-journal.jsonl
    settings = settings_factory(dashboard_database_url=f"sqlite:///{data / 'dashboard.db'}", dashboard_data_dir=data)
    seeder = build_context(settings, sandbox_url=sandbox.url)
    try:
        hubs = seed_portals(seeder, sandbox.url, PORTALS)
    finally:
        seeder.close()
    ctx = build_context(settings.model_copy(update={"dashboard_sqlite_busy_timeout_ms": 300}), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    fillers: list[Path] = []
    try:
        sandbox_post(sandbox, "/_sandbox/config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0,
                                                   "latency_ms": 300})
        outcomes = _sweep_meeting(ctx, sandbox, lambda: fillers.append(fill(small_disk)))
        results = sorted(o.result for o in outcomes)
        journaled = [o.hub_id for o in outcomes if o.result == "journaled"]
        assert journaled, f"no store met the full disk: {results}"
        assert journal.size(ctx) == len(journaled) and len(ctx.unsaved) == 0  # every claim is true
        assert len(journal._read(journal.path(ctx))) == len(journaled)  # no torn line from a failed append
        assert (data / journal.RESERVE_NAME).stat().st_size < journal.RESERVE_BYTES  # the reserve paid for it

        fillers.pop().unlink()
        second = refresh.refresh_due(ctx, concurrency=8, actor=ADMIN)  # replays the journal first
        assert journal.size(ctx) == 0
        assert (data / journal.RESERVE_NAME).stat().st_size == journal.RESERVE_BYTES  # reserved again
        lost = _lost(ctx, sandbox, [h for h in hubs])
        print(f"\nfull disk, default layout: first={results} journaled={len(journaled)} lost={len(lost)} "
              f"second={len(second)}")
        assert lost == []
    finally:
        for filler in fillers:
            filler.unlink()
        sandbox_post(sandbox, "/_sandbox/reset", {})
        ctx.close()


def test_tokens_neither_the_database_nor_the_journal_takes_are_held_and_reported_until_stored(
    settings_factory: Any, sandbox: Any, tmp_path: Path, alert_sink: tuple[str, list[bytes]],
) -> None:
    alert_url, alerts = alert_sink
    ctx = build_context(settings_factory(dashboard_alert_webhook_url=alert_url), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    data = ctx.settings.dashboard_data_dir
    blocked = data / journal.FILE_NAME

    def refuse_writes(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")

    def both_fail() -> None:  # the database turns read-only, and the journal cannot be opened for writing
        blocked.mkdir(parents=True)
        event.listen(ctx.engine, "checkout", refuse_writes)

    try:
        hubs = seed_portals(ctx, sandbox.url, PORTALS)
        sandbox_post(sandbox, "/_sandbox/config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0,
                                                   "latency_ms": 300})
        outcomes = _sweep_meeting(ctx, sandbox, both_fail)
        unsaved = [o.hub_id for o in outcomes if o.result == "unsaved"]
        assert unsaved and not [o for o in outcomes if o.result == "journaled"], outcomes
        assert len(ctx.unsaved) == len(unsaved)
        ready = health.readiness(ctx)
        assert not ready.ready and "tokens" in ready.failing and str(len(unsaved)) in ready.checks["tokens"]
        assert [json.loads(a)["event"] for a in alerts] == ["tokens_unsaved"]  # once, not once per portal
        with ctx.session() as session:  # the lease is kept: no worker refreshes from the replaced token
            assert all(p.lease_owner for h in unsaved if (p := repository.get_portal(session=session, hub_id=h)))
        with pytest.raises(StorageError, match="held only in this process's memory"):
            refresh.refresh_due(ctx, actor=ADMIN)  # starts nothing while they are held
        assert len(ctx.unsaved) == len(unsaved)

        # `refresh --due` without --loop: its single pass does not end while tokens are held, it retries.
        passes: list[worker.PassResult] = []
        seen = threading.Condition()

        def on_pass(result: worker.PassResult) -> None:
            with seen:
                passes.append(result)
                seen.notify_all()

        loop = worker.RefreshWorker(ctx, kind="cli", interval=0.2, on_pass=on_pass)
        stop = threading.Event()
        finished: list[worker.PassResult] = []
        once = threading.Thread(target=lambda: finished.append(loop.run(stop, once=True)))
        once.start()
        with seen:
            assert seen.wait_for(lambda: len(passes) >= 2, timeout=60)
        assert once.is_alive() and all(p.error and "memory" in p.error for p in passes)
        event.remove(ctx.engine, "checkout", refuse_writes)  # the database comes back
        ctx.engine.dispose()
        blocked.rmdir()
        once.join(timeout=60)
        assert not once.is_alive() and finished[0].error is None
        assert len(ctx.unsaved) == 0 and health.readiness(ctx).checks["tokens"] == "ok"
        lost = _lost(ctx, sandbox, hubs)
        print(f"\nboth refuse: unsaved={len(unsaved)} lost={len(lost)} alerts={len(alerts)}")
        assert lost == []
    finally:
        if event.contains(ctx.engine, "checkout", refuse_writes):
            event.remove(ctx.engine, "checkout", refuse_writes)
        sandbox_post(sandbox, "/_sandbox/reset", {})
        ctx.close()


def test_the_spill_dir_takes_an_append_the_data_folder_refuses(
    settings_factory: Any, sandbox: Any, tmp_path: Path,
) -> None:
    spill = tmp_path / "spill"
    ctx = build_context(settings_factory(dashboard_spill_dir=spill), sandbox_url=sandbox.url)
    try:
        (ctx.settings.dashboard_data_dir / journal.FILE_NAME).mkdir(parents=True)  # the data folder refuses
        entry = journal.Entry(4242, 1, {"access_token_ct": "c1", "refresh_token_ct": "c2"}, "system", "detail")
        assert journal.append(ctx, entry)
        assert [e.hub_id for e in journal._read(spill / journal.FILE_NAME)] == [4242]
    finally:
        ctx.close()
