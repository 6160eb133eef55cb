"""The spill journal: refreshed tokens the database refused, kept on local disk until it takes them.

With rotating refresh tokens, HubSpot's answer to a refresh is the only copy of the new refresh token; the
old one is dead. When storing it fails (database locked, read-only, full, gone) even after the retries,
the refresh path appends the row's new column values to this journal instead of dropping them. The values
are the ones the database would have stored: ciphertexts sealed with the current key, never plaintext.

One JSON line per entry in ``DASHBOARD_DATA_DIR/token-journal.jsonl`` (mode 0600, appended and fsynced
before the refresh returns). The journal must work exactly when the database does not, and in the default
layout both share one disk: so each journal folder keeps a preallocated reserve file
(``token-journal.reserve``, :data:`RESERVE_BYTES`), and an append that meets a full disk gives back part of
the reserve and writes again (dashboard/storage/journal_file.py). A failed append is cut back to where it started, so
the file never holds a torn line. ``DASHBOARD_SPILL_DIR`` names a second folder (best on another disk),
tried when the first refuses. When every folder refuses, :func:`append` says so (False) and the caller keeps
the tokens in memory (dashboard/storage/unsaved_tokens.py); :func:`replay` tries those first.

:func:`replay` writes entries back through the same conditional UPDATE as a refresh (the row must still hold
the ``token_version`` the refresh read: a newer row wins) and keeps only the entries the database still
refuses. Every worker and the dashboard replay before each sweep.

Appends and replays of all processes on this machine take an exclusive ``flock`` on a lock file beside the
journal, so a replay never rewrites the file under an append. The journal is per machine: a worker on
another host replays its own.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

from dashboard import repository
from dashboard.context import AppContext
from dashboard.errors import StorageError
from dashboard.lifecycle.machine import HealthEvent
from dashboard.lifecycle.transitions import plan, write_transition
from dashboard.models import DEFAULT_APP, PortalUpdate, utcnow
from dashboard.security import audit
from dashboard.storage import journal_file
from dashboard.storage.file_modes import private_file

log = logging.getLogger(__name__)

FILE_NAME = "token-journal.jsonl"
LOCK_NAME = "token-journal.lock"
RESERVE_NAME = "token-journal.reserve"
RESERVE_BYTES = journal_file.RESERVE_BYTES
_DATETIMES = frozenset({"expires_at", "last_refresh_at", "updated_at", "next_attempt_at"})


@dataclass(frozen=True)
class Entry:
    """One refresh the database refused: what to write to the row if it still holds ``base_version``."""

    hub_id: int
    base_version: int
    values: PortalUpdate
    actor: str
    audit_detail: str
    # The app of the connection (hub id alone is ambiguous once two apps share an account); lines written
    # before apps had none: they belong to the default app of the time.
    app: str = DEFAULT_APP

    def to_line(self) -> str:
        values = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.values.items()}
        return json.dumps({"app": self.app, "hub_id": self.hub_id, "base_version": self.base_version, "values": values,
                           "actor": self.actor, "audit_detail": self.audit_detail}, separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> Entry:
        data = json.loads(line)
        values = {k: (datetime.fromisoformat(v) if k in _DATETIMES and isinstance(v, str) else v)
                  for k, v in data["values"].items()}
        # Read back from our own file; the repository still refuses a key that names no column.
        return cls(int(data["hub_id"]), int(data["base_version"]), cast(PortalUpdate, values), str(data["actor"]),
                   str(data["audit_detail"]), app=str(data.get("app", DEFAULT_APP)))


def path(ctx: AppContext) -> Path:
    """The journal file in the data folder (the first of :func:`folders`)."""
    return Path(ctx.settings.dashboard_data_dir) / FILE_NAME


def folders(ctx: AppContext) -> list[Path]:
    """Where journal files live, in the order appends try them: the data folder, then DASHBOARD_SPILL_DIR."""
    found = [Path(ctx.settings.dashboard_data_dir)]
    spill = ctx.settings.dashboard_spill_dir
    if spill is not None and Path(spill) != found[0]:
        found.append(Path(spill))
    return found


@contextmanager
def _locked(folder: Path) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        private_file(folder / FILE_NAME)
        yield folder / FILE_NAME
    finally:
        os.close(fd)  # closing releases the flock


def ensure_reserve(ctx: AppContext) -> None:
    """Give every journal folder its full reserve again (after a full disk used part of it). Best effort."""
    for folder in folders(ctx):
        journal_file.ensure_reserve(folder, RESERVE_NAME)


def _append_in(folder: Path, data: bytes) -> Path:
    with _locked(folder) as file:
        journal_file.append_line(file, folder / RESERVE_NAME, data)
    return file


def append(ctx: AppContext, entry: Entry) -> bool:
    """Append and fsync ``entry`` in the first folder that takes it; False (logged as critical, with the hub
    id only) when none does."""
    data = (entry.to_line() + "\n").encode()
    failures: list[str] = []
    for folder in folders(ctx):
        try:
            file = _append_in(folder, data)
        except OSError as exc:
            failures.append(exc.__class__.__name__)
            continue
        log.error("app %s hub %s: the database refused the refreshed tokens; kept them in the spill journal %s "
                  "until it accepts them", entry.app, entry.hub_id, file)
        return True
    log.critical("app %s hub %s: HubSpot issued new tokens that neither the database nor the spill journal "
                 "could store (%s); they are held in this process's memory, and no new refresh starts, until "
                 "one of them takes them", entry.app, entry.hub_id, ", ".join(failures))
    return False


def _read(file: Path) -> list[Entry]:
    entries: list[Entry] = []
    if not file.exists():
        return entries
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(Entry.from_line(line))
        except (ValueError, KeyError, TypeError):
            # A torn last line (a crash during append; its fsync never returned, so its refresh never did).
            log.error("spill journal line %s is unreadable; skipped", n)
    return entries


def _rewrite(file: Path, entries: list[Entry]) -> None:
    """Replace the journal with ``entries`` at once (temp file, fsync, rename)."""
    if not entries:
        file.unlink(missing_ok=True)
        return
    tmp = file.with_name(f".{file.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, "".join(e.to_line() + "\n" for e in entries).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, file)


def _apply(ctx: AppContext, entry: Entry) -> bool:
    """Store one entry if its row still holds ``base_version``; its audit event either way. True if stored.

    A stored entry is a successful refresh: the health state machine's move (and its transition) with it.
    The entry's own app, whichever app's pass replays it: the journal is one file per machine."""
    with ctx.session(app=entry.app) as session, ctx.writing():
        portal = repository.get_portal(session=session, hub_id=entry.hub_id)
        change = plan(portal, HealthEvent.REFRESHED, utcnow()) if portal is not None else None
        values: PortalUpdate = {**entry.values, **change.values} if change is not None else entry.values
        stored = repository.update_portal_if_version(session=session, hub_id=entry.hub_id,
                                                     version=entry.base_version, values=values)
        audit.record(session, actor=entry.actor, action="refresh", outcome="success" if stored else "conflict",
                     hub_id=entry.hub_id, detail=f"{entry.audit_detail}; stored from the spill journal")
        if stored and change is not None:
            write_transition(session, change, actor=entry.actor, cause="refresh stored from the spill journal",
                             at=utcnow())
        session.commit()
    if not stored:
        log.warning("app %s hub %s: a spill journal entry was superseded by a newer row; dropped", entry.app,
                    entry.hub_id)
    return stored


def _flush_unsaved(ctx: AppContext) -> int:
    """Store the tokens held in memory: in the database, else in the journal. How many reached the database."""
    stored = 0

    def place(entry: Entry, _owner: str) -> bool:
        nonlocal stored
        try:
            stored += _apply(ctx, entry)
            return True
        except StorageError:
            return append(ctx, entry)

    ctx.unsaved.flush(place)
    return stored


def _replay_folder(ctx: AppContext, folder: Path) -> tuple[int, int, StorageError | None]:
    """Replay one folder's journal: (stored, left, the database's refusal or None)."""
    stored = 0
    error: StorageError | None = None
    with _locked(folder) as file:
        entries = _read(file)
        kept: list[Entry] = []
        for n, entry in enumerate(entries):
            try:
                stored += _apply(ctx, entry)
            except StorageError as exc:  # still refused: keep this entry and the rest for the next replay
                kept = entries[n:]
                error = exc
                break
        if kept != entries:
            _rewrite(file, kept)
    return stored, len(kept), error


def replay(ctx: AppContext) -> int:
    """Write held and journaled tokens back into the database; how many were stored.

    Tokens held in memory go first (to the database, else to the journal). In each journal, at the first
    entry the database still refuses, that entry and the ones after it stay; entries whose row moved on
    (newer ``token_version``, or the portal is gone) are dropped. :class:`StorageError` is raised while
    anything is left, saying where.
    """
    ensure_reserve(ctx)
    stored = _flush_unsaved(ctx) if len(ctx.unsaved) else 0
    left = 0
    error: StorageError | None = None
    for folder in folders(ctx):
        if not (folder / FILE_NAME).exists():
            continue
        try:
            done, kept, refused = _replay_folder(ctx, folder)
        except OSError as exc:  # the journal itself cannot be read or rewritten: say so, keep what is there
            log.error("spill journal in %s cannot be replayed (%s)", folder, exc.__class__.__name__)
            error = error or StorageError(f"the spill journal in {folder} cannot be read ({exc.__class__.__name__})")
            continue
        stored += done
        left += kept
        error = error or refused
    held = len(ctx.unsaved)
    if held:
        raise StorageError(f"{held} refreshed token(s) are held only in this process's memory: neither the "
                           "database nor the spill journal takes them (free disk space, or set "
                           "DASHBOARD_SPILL_DIR); no new refresh starts until one does")
    if error is not None:
        raise StorageError(f"{left} refreshed token(s) wait in the spill journal: {error}")
    return stored


def size(ctx: AppContext) -> int:
    """Entries waiting in the journals (0 when there is none): for metrics and status pages."""
    total = 0
    for folder in folders(ctx):
        file = folder / FILE_NAME
        try:
            private_file(file)
            with file.open(encoding="utf-8") as fh:
                total += sum(1 for line in fh if line.strip())
        except FileNotFoundError:
            continue
    return total
