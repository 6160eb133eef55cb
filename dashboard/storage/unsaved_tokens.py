"""Refreshed tokens that neither the database nor the spill journal would take: held in this process's memory.

The last resort of the refresh path (dashboard/refresh/store.py). While anything is held here the process
says so everywhere it can (``/readyz`` 503, an alert, the worker's pass error, a non-zero exit) and starts no
new refresh; every pass first tries to store what is held (database, else journal) until one store succeeds.
Entries are sealed column values, never plaintext tokens. Imports nothing from ``dashboard``: the context
owns one holder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class UnsavedTokens:
    """A thread-safe list of held entries (journal entries, with the lease owner that still holds the row)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[tuple[Any, str]] = []

    def hold(self, entry: Any, owner: str) -> None:
        with self._lock:
            self._held.append((entry, owner))

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def leases(self) -> list[tuple[int, str]]:
        """(hub id, lease owner) of each held entry: the leases to keep while the tokens are held."""
        with self._lock:
            return [(int(entry.hub_id), owner) for entry, owner in self._held]

    def flush(self, store: Callable[[Any, str], bool]) -> int:
        """``store(entry, owner)`` for each held entry, in order; True means it is safe elsewhere now and is
        dropped from memory. How many were. An exception keeps that entry and the rest, and is raised."""
        with self._lock:
            held, self._held = self._held, []
        kept: list[tuple[Any, str]] = []
        n = 0
        try:
            for n, (entry, owner) in enumerate(held):  # noqa: B007  (n is read after an exception)
                if not store(entry, owner):
                    kept.append((entry, owner))
            n = len(held)
        finally:
            kept.extend(held[n:])
            with self._lock:
                self._held = kept + self._held
        return len(held) - len(kept)
