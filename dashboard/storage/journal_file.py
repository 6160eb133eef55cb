"""Appending one line durably to a journal file on a disk that may be full, and the space reserved for it.

The spill journal must work exactly when the database does not, and in the default layout both share one
disk. So beside each journal file lives a preallocated reserve file; an append that meets a full disk (ENOSPC,
EDQUOT) shrinks the reserve and writes again. A failed append is cut back to where it started: a torn line
would swallow the next entry. Plain files only: nothing here knows what an entry is.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

# A pass stops starting refreshes once one store is journaled, so one pass journals at most its concurrency's
# worth of entries (about 1.5 kB each): 2 MiB holds more than a thousand.
RESERVE_BYTES = 2 * 1024 * 1024
_STEP = 64 * 1024
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def ensure_reserve(folder: Path, name: str = "token-journal.reserve") -> None:
    """Grow ``folder/name`` to :data:`RESERVE_BYTES` of allocated space. Best effort: a disk too full to hold
    it logs a warning, and appends still work while the disk has room."""
    reserve = folder / name
    try:
        if reserve.exists() and reserve.stat().st_size >= RESERVE_BYTES:
            return
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(reserve, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("spill journal: cannot reserve %s bytes in %s (%s)", RESERVE_BYTES, folder,
                    exc.__class__.__name__)


def _give_back(reserve: Path, need: int) -> bool:
    """Shrink ``reserve`` by at least ``need`` bytes; False when there is none left."""
    try:
        size = reserve.stat().st_size
        if size == 0:
            return False
        os.truncate(reserve, max(0, size - max(need, _STEP)))
    except OSError:
        return False
    log.warning("spill journal: the disk of %s is full; used part of the journal's reserve", reserve.parent)
    return True


def _write_line(fd: int, start: int, data: bytes) -> None:
    """Write all of ``data`` and fsync; on failure cut the file back to ``start`` (no torn line) and raise."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError:
        os.ftruncate(fd, start)
        raise


def append_line(file: Path, reserve: Path, data: bytes) -> None:
    """Append ``data`` to ``file`` (created 0600) and fsync it, using ``reserve`` on a full disk; OSError if
    that fails too (the file then ends where it did)."""
    fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        start = os.fstat(fd).st_size
        try:
            _write_line(fd, start, data)
        except OSError as exc:
            if exc.errno not in _DISK_FULL or not _give_back(reserve, len(data)):
                raise
            _write_line(fd, start, data)
    finally:
        os.close(fd)
