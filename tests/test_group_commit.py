"""Group commit (dashboard/storage/group_commit.py): many threads' writes in shared transactions, each with its own
outcome, on a real SQLite file.

Bounds, over random thread counts and random faulty writes: every write is committed exactly once or its
caller gets an error; transactions are at most the writes (and at most ``MAX_BATCH`` writes each); a write
that raises a bug costs no other write its store; a database that refuses the transaction fails every write
in it with a ``StorageError`` and commits none of them.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlmodel import Session

from dashboard import repository
from dashboard.context import AppContext, build_context
from dashboard.errors import StorageError
from dashboard.security import audit
from dashboard.storage import group_commit


class Bug(Exception):
    """A fault inside one write, not the database's."""


def _write(marker: str, *, faulty: bool) -> Any:
    def work(session: Session) -> str:
        audit.record(session, actor="test:group", action="group", outcome="success", detail=marker)
        if faulty:
            raise Bug(marker)
        return marker
    return work


def _committed(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        return [e.detail for e in repository.list_audit_events(session=session, action="group", limit=100_000)]


@contextmanager
def _counting_commits(ctx: AppContext) -> Iterator[list[int]]:
    commits = [0]

    def on_commit(_conn: Any) -> None:
        commits[0] += 1

    event.listen(ctx.engine, "commit", on_commit)
    try:
        yield commits
    finally:
        event.remove(ctx.engine, "commit", on_commit)


def _run_threads(ctx: AppContext, faulty: list[bool], run: str = "") -> dict[str, object]:
    outcomes: dict[str, object] = {}
    start = threading.Barrier(len(faulty))

    def one(i: int) -> None:
        marker = f"{run}w{i}"
        start.wait()
        try:
            outcomes[marker] = ctx.write_together(_write(marker, faulty=faulty[i]))
        except Exception as exc:  # what each caller sees
            outcomes[marker] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(faulty))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer never returned"
    return outcomes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faulty=st.lists(st.booleans(), min_size=1, max_size=60))
def test_every_write_is_stored_once_or_fails_alone(ctx: AppContext, faulty: list[bool]) -> None:
    run = f"{uuid.uuid4().hex[:8]}-"  # hypothesis reuses the database across examples
    with _counting_commits(ctx) as commits:
        outcomes = _run_threads(ctx, faulty, run)
    stored = [d for d in _committed(ctx) if d.startswith(run)]
    good = {f"{run}w{i}" for i, bad in enumerate(faulty) if not bad}
    assert sorted(stored) == sorted(good)  # once each, and none of the faulty ones
    for marker, outcome in outcomes.items():
        if marker in good:
            assert outcome == marker  # each caller gets its own write's result
        else:
            assert isinstance(outcome, Bug) and str(outcome) == marker
    assert 1 <= commits[0] <= len(good) or (not good and commits[0] == 0)


def test_a_transaction_never_carries_more_than_max_batch_writes(ctx: AppContext,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_commit, "MAX_BATCH", 4)
    with _counting_commits(ctx) as commits:
        outcomes = _run_threads(ctx, [False] * 40)
    assert all(outcomes[f"w{i}"] == f"w{i}" for i in range(40))
    assert 10 <= commits[0] <= 40  # 40 writes, at most 4 to a transaction


def test_a_refused_transaction_fails_every_write_in_it_and_commits_none(settings_factory: Any, sandbox: Any,
                                                                        tmp_path: Path) -> None:
    db_file = tmp_path / "locked.db"
    ctx = build_context(settings_factory(dashboard_database_url=f"sqlite:///{db_file}",
                                         dashboard_sqlite_busy_timeout_ms=200), sandbox_url=sandbox.url)
    holder = sqlite3.connect(db_file, timeout=5, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
        outcomes = _run_threads(ctx, [False] * 12)
        holder.execute("ROLLBACK")
        assert all(isinstance(o, StorageError) for o in outcomes.values()), outcomes
        assert len({id(o) for o in outcomes.values()}) == 12  # each caller raises its own copy
        assert all(isinstance(o, StorageError) and o.__cause__ is not None for o in outcomes.values())
        assert _committed(ctx) == []
        assert _run_threads(ctx, [False] * 3) == {"w0": "w0", "w1": "w1", "w2": "w2"}  # and it recovers
    finally:
        holder.close()
        ctx.close()
