"""Issue 22 item 3: a SQLite file deleted (or replaced) under a running sweep.

A connection keeps writing into a deleted file (it lives on, unlinked, until closed): the sweep used to
report every portal refreshed while the tokens went into a file nobody would see again, and with strict
rotation every one of them was lost when the file came back. Each transaction now first compares the path's
device and inode with the file its connection opened: the store is refused, the tokens go to the spill
journal, and once the file is back the next sweep stores them (0 lost).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dashboard import repository
from dashboard.context import build_context
from dashboard.errors import StorageError
from dashboard.refresh import journal
from dashboard.refresh import service as refresh
from dashboard.security import vault
from tests.utils.lifecycle import ADMIN, FAST_RETRY, sandbox_get, sandbox_post
from tests.utils.seeding import seed_portals

PORTALS = 20


def _take_away(db_file: Path, *, replace: bool) -> list[str]:
    """Under the write lock: dump the committed database, then delete it (``replace``: put a copy in its
    place, a new inode). Returns the dump, to restore it the way an operator restores a backup."""
    conn = sqlite3.connect(db_file, timeout=30, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # no commit can fall between the dump and the deletion
    dump = list(conn.iterdump())
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    if replace:
        _restore(db_file, dump)
    conn.execute("ROLLBACK")
    conn.close()
    return dump


def _restore(db_file: Path, dump: list[str]) -> None:
    tmp = db_file.with_name("restored.db")
    restored = sqlite3.connect(tmp)
    restored.executescript("\n".join(dump))
    restored.close()
    os.replace(tmp, db_file)


@pytest.mark.parametrize("replace", [False, True], ids=["deleted", "replaced"])
def test_a_database_file_deleted_during_a_sweep_loses_no_rotated_token(
    settings_factory: Any, sandbox: Any, tmp_path: Path, replace: bool, caplog: pytest.LogCaptureFixture,
) -> None:
    db_file = tmp_path / "dashboard.db"
    ctx = build_context(settings_factory(dashboard_database_url=f"sqlite:///{db_file}"), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    try:
        hubs = seed_portals(ctx, sandbox.url, PORTALS)
        sandbox_post(sandbox, "/_sandbox/config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0,
                                                   "latency_ms": 300})
        outcomes: list[refresh.RefreshOutcome] = []
        sweep = threading.Thread(target=lambda: outcomes.extend(refresh.refresh_due(ctx, concurrency=4, actor=ADMIN)))
        sweep.start()
        deadline = time.monotonic() + 30
        while sandbox_get(sandbox, "/_sandbox/stats")["token_requests"]["refresh_token"] == 0:
            assert time.monotonic() < deadline, "no grant started"
            time.sleep(0.01)
        refused: list[str] = []
        caplog.set_level(logging.WARNING, logger="dashboard.refresh.store")
        caplog.set_level(logging.WARNING, logger="dashboard.storage.db")
        dump = _take_away(db_file, replace=replace)  # grants are at HubSpot; their stores meet a missing file
        sweep.join(timeout=60)
        assert not sweep.is_alive()
        # A connection in use when the file changed is refused; an idle pooled one is dropped at checkout.
        refused = [r.getMessage() for r in caplog.records
                   if "was replaced while in use" in r.getMessage() or "was replaced since a pooled" in r.getMessage()]
        results = sorted(o.result for o in outcomes)
        journaled = [o.hub_id for o in outcomes if o.result == "journaled"]
        assert journal.size(ctx) == len(journaled)
        if replace:  # a refused store is retried on a new connection: into the file now at the path
            assert refused, "no store met the replaced file"
        else:
            assert journaled, f"no store met the missing file: {results}"
            with pytest.raises(StorageError, match="deleted"), ctx.session() as session:  # says so, one line
                session.execute(text("select 1"))
            assert not db_file.exists(), "a reconnect created an empty database in place of the deleted one"
            _restore(db_file, dump)  # the file comes back

        second = refresh.refresh_due(ctx, concurrency=4, actor=ADMIN)  # replays the journal first
        assert journal.size(ctx) == 0
        live = {t["hub_id"]: t["token"] for t in sandbox_get(sandbox, "/_sandbox/tokens")["tokens"]
                if t["kind"] == "refresh" and t["active"]}
        with ctx.session() as session:
            stored = {h: vault.open_tokens(ctx.cipher, p).refresh_token
                      for h in hubs if (p := repository.get_portal(session=session, hub_id=h)) is not None}
        lost = [h for h in hubs if stored[h] != live[h]]
        stats = sandbox_get(sandbox, "/_sandbox/stats")
        print(f"\n{'replaced' if replace else 'deleted'}: first={results} journaled={len(journaled)} lost={len(lost)} "
              f"second={sorted(o.result for o in second)} invalid_grant={stats['errors'].get('invalid_grant', 0)}")
        assert lost == []
        assert stats["errors"].get("invalid_grant", 0) == 0
    finally:
        sandbox_post(sandbox, "/_sandbox/reset", {})
        ctx.close()
