"""Token API reads in batches: every read counted in the audit log, committed before it is answered.

A request hands its read to this process's reader thread and waits. The thread takes every read waiting
(up to :data:`MAX_BATCH`), reads their portals in one query, decides each (a token, an error, or "needs a
refresh": the caller's slow path), adds the reads it serves to one audit row per key, portal and minute
(``count``), commits, and only then answers them all. So the count is never behind the answers clients
received, even after SIGKILL, and the database sees one read and one short write per batch instead of
one per request (group commit). On the event loop a batch costs one hand-off to the thread and one back.
When the commit fails (database locked, full, gone), every read in the batch gets the error (HTTP 503):
nothing is served that was not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard import repository
from dashboard.admin.api_keys import ApiKeyInfo
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.models import utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 512  # bounds one transaction (and the writer lock's hold) whatever the number of waiting requests
IDLE_SECONDS = 30.0  # the reader thread ends after this long without reads; the next read starts another
SLOW = object()  # "this read needs the slow path (a refresh)": not served, not counted


@dataclass
class Read:
    """One read: ``decide`` gets the portal's row (None: no such row) and returns what to answer, or SLOW.
    ``hub_id`` None with ``served`` set counts a read that needs no row (the portal listing); ``action`` ""
    is not counted."""

    key: ApiKeyInfo
    action: str
    hub_id: int | None
    served: object = None
    waiter: Future[object] | asyncio.Future[object] | None = field(default=None, repr=False)
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)


Decide = Callable[[Read, Any], object]


def minute_of(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


class ReadBatcher:
    """This process's reader thread (started on first use); see the module docstring."""

    def __init__(self, ctx: AppContext, decide: Decide) -> None:
        self.ctx = ctx
        self.decide = decide
        self._queue: queue.SimpleQueue[list[Read]] = queue.SimpleQueue()
        self._gathering: list[Read] = []  # the event loop's reads of this turn (one event loop per server)
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    async def read(self, read: Read) -> object:
        """What to answer for ``read`` (or SLOW), once its count is committed; raises the batch's error.

        Reads made in one turn of the event loop go to the thread together (one wake-up per batch): the
        hand-off is scheduled with ``call_soon``, after every request already runnable has added its own.
        """
        loop = asyncio.get_running_loop()
        read.loop, read.waiter = loop, loop.create_future()
        self._gathering.append(read)
        if len(self._gathering) == 1:
            loop.call_soon(self._hand_over)
        return await read.waiter

    def _hand_over(self) -> None:
        batch, self._gathering = self._gathering, []
        self._submit(batch)

    def read_blocking(self, read: Read) -> object:
        """:meth:`read` for a thread that may block (the CLI, tests, the slow path)."""
        waiter: Future[object] = Future()
        read.waiter = waiter
        self._submit([read])
        return waiter.result()

    def _submit(self, reads: list[Read]) -> None:
        self._queue.put(reads)
        with self._start:  # the same lock the idle thread exits under: no read is left without a reader
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="token-reads", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._start:
                    if self._queue.empty():  # idle: end (a context closed, or no reads lately)
                        self._thread = None
                        return
                continue
            while len(batch) < MAX_BATCH:
                try:
                    batch += self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                outcomes = self._process(batch)
            except Exception as exc:  # the batch failed as a whole (the database): every read gets the error
                if not isinstance(exc, DashboardError):
                    log.error("token reads: a batch of %d failed (%s)", len(batch), exc.__class__.__name__)
                outcomes = [exc] * len(batch)
            _settle(batch, outcomes)

    def _process(self, batch: Sequence[Read]) -> list[object]:
        outcomes: list[object] = []
        counts: Counter[repository.ReadSlot] = Counter()
        with self.ctx.session() as session:
            rows = repository.token_rows(session=session, hub_ids={r.hub_id for r in batch
                                                                   if r.served is None and r.hub_id is not None})
            for read in batch:
                try:
                    outcome = read.served if read.served is not None else self.decide(read, rows.get(read.hub_id or 0))
                except DashboardError as exc:
                    outcomes.append(exc)
                    continue
                outcomes.append(outcome)
                if outcome is not SLOW and read.action:  # "": not counted (the proxy counts its own calls)
                    counts[(read.key.actor_name, read.action, read.hub_id, f"key {read.key.prefix}")] += 1
            if counts:
                with self.ctx.writing():
                    repository.add_read_counts(session=session, at=minute_of(utcnow()), counts=counts)
                    session.commit()
        return outcomes


def _settle(batch: Sequence[Read], outcomes: Sequence[object]) -> None:
    """Hand each read its outcome: thread waiters at once, each event loop's in one call on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Read, object]]] = {}
    for read, outcome in zip(batch, outcomes, strict=True):
        if read.loop is None:
            _resolve([(read, outcome)])
        else:
            by_loop.setdefault(read.loop, []).append((read, outcome))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: Sequence[tuple[Read, object]]) -> None:
    for read, outcome in items:
        waiter = read.waiter
        if waiter is None or waiter.done():  # the client went away
            continue
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)
