"""Group commit: short write transactions from many threads, committed together by one of them.

SQLite takes one writer at a time, so a refresh sweep's threads already store their tokens one after another
(``AppContext.writing``). Each store is tiny (one UPDATE, one audit INSERT), but done alone it also opens a
session, begins, commits and hands the lock to the next thread, one wake-up at a time: at 50 threads that
hand-off costs about as much as the SQL. Here a thread queues its write; whichever thread gets to commit
first writes every write queued so far in one transaction, and the others find theirs done.

Each write keeps its own outcome (its conditional UPDATE's row count). When the database refuses the
transaction (locked, read-only, full), every write in it gets the :class:`StorageError` and its caller retries
or spills to the journal as before (dashboard/refresh/store.py); nothing is committed half. Any other error
(a bug in one write) must not cost the others their tokens, so the batch is then run again one write at a time.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

from sqlmodel import Session

from dashboard.errors import StorageError

T = TypeVar("T")
MAX_BATCH = 128  # bounds one transaction (and the time the writer lock is held) whatever the thread count


class _Write(Generic[T]):
    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Runs ``work(session)`` callables in shared transactions; see the module docstring."""

    def __init__(self, session: Callable[[], AbstractContextManager[Session]],
                 writing: Callable[[], AbstractContextManager[object]]) -> None:
        self._session = session
        self._writing = writing
        self._queue: list[_Write[object]] = []
        self._queue_lock = threading.Lock()
        self._committer = threading.Lock()  # one transaction at a time per process

    def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` committed (possibly with other threads' writes); its result, or its error."""
        write: _Write[T] = _Write(work)
        with self._queue_lock:
            self._queue.append(write)  # type: ignore[arg-type]  # results are handed back untyped
        while not write.done:
            with self._committer:
                if write.done:  # another thread committed it while we waited for the lock
                    break
                with self._queue_lock:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                self._commit(batch)
        if write.error is not None:
            error = copy.copy(write.error)  # each thread raises its own copy: tracebacks stay apart
            raise error from write.error.__cause__  # still chained to the database's own exception
        return write.result  # type: ignore[return-value]  # set by _commit with work's own result

    def _commit(self, batch: list[_Write[object]]) -> None:
        try:
            with self._session() as session, self._writing():
                results = [write.work(session) for write in batch]
                session.commit()
        except StorageError as exc:  # the database refused the transaction: every write in it retries
            for write in batch:
                write.error, write.done = exc, True
            return
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error, batch[0].done = exc, True
                return
            for write in batch:  # one write's own fault: the others must still be stored
                self._commit([write])
            return
        except BaseException as exc:  # interrupted: no caller may wait for a write that will never be done
            for write in batch:
                if not write.done:
                    write.error, write.done = exc, True
            raise
        for write, result in zip(batch, results, strict=True):
            write.result, write.done = result, True
