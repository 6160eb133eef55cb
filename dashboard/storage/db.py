"""Engine creation and migrations (Alembic), for SQLite and PostgreSQL.

SQLite runs in WAL mode with a busy timeout so the UI, the CLI and several refresh workers can share one
file; writers that must not lose updates use conditional ``UPDATE ... WHERE`` (see repository).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from dashboard.errors import ConfigurationError, StorageError
from dashboard.storage.file_modes import private_dir, private_sqlite_file

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"  # dashboard/migrations, beside this package
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_LOCK_TIMEOUT_MS = 5_000
PG_STATEMENT_TIMEOUT_MS = 15_000


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return on_connect


def create_db_engine(url: str, *, pool_size: int = 10, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
                     pg_lock_timeout_ms: int = PG_LOCK_TIMEOUT_MS,
                     pg_statement_timeout_ms: int = PG_STATEMENT_TIMEOUT_MS) -> Engine:
    """Engine for ``url``; the SQLite parent folder is created on first use.

    On PostgreSQL every session runs with ``lock_timeout`` and ``statement_timeout``: a table lock or a hung
    statement fails like any other database error (and the refresh path spills to the journal) instead of
    blocking a refresh, and the worker's shutdown, without end.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigurationError("DASHBOARD_DATABASE_URL: is not a valid database URL") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            # A folder we create is private; an existing one (say /var/lib) is the operator's to set.
            private_dir(Path(db).parent, tighten=False)
            # A read-only or foreign file: SQLite reports the real problem when it opens it.
            with contextlib.suppress(OSError):
                private_sqlite_file(Path(db))
        # A pool of file connections, each used by one thread at a time (check_same_thread off): opening a
        # connection and setting its pragmas per session cost a refresh sweep a third of its time.
        # ":memory:" keeps NullPool (a pooled in-memory database would be shared across threads).
        args: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}}
        if db and db != ":memory:":
            args.update(pool_size=pool_size, max_overflow=pool_size)
        else:
            args.update(poolclass=NullPool)
        engine = create_engine(url, **args)
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        if db and db != ":memory:" and not db.startswith("file:"):
            _guard_file(engine, Path(db).resolve())
        return engine
    options = f"-c lock_timeout={int(pg_lock_timeout_ms)} -c statement_timeout={int(pg_statement_timeout_ms)}"
    try:
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                             connect_args={"options": options})
    except (ArgumentError, ImportError, SQLAlchemyError) as exc:
        raise ConfigurationError(
            f"DASHBOARD_DATABASE_URL: cannot use this database URL ({exc.__class__.__name__})"
        ) from exc

log = logging.getLogger(__name__)


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _guard_file(engine: Engine, path: Path) -> None:
    """Refuse every transaction on a connection whose file is no longer the one at ``path``.

    A connection keeps writing into a database file that was deleted (it lives on, unlinked, until closed)
    or replaced (a restore, a copy over it): every commit "succeeds" and is lost with the old file. So each
    connection remembers the device and inode it opened, and each transaction first compares them with the
    path's, at BEGIN and again before COMMIT: a mismatch discards the connection and raises
    :class:`StorageError`, and the refresh path puts its tokens in the spill journal. Once the file has
    existed, a missing file is never created anew by a reconnect (that would be an empty database); a file
    put back is used again; an idle pooled connection of an old file is replaced at checkout. A stat at
    checkout and two per transaction.
    """
    seen: list[bool] = []

    def before_connect(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        if seen and _file_id(path) is None:
            raise StorageError(f"the database file {path.name} was deleted; nothing is written until it is "
                               "restored")

    def on_connect(_dbapi_conn: Any, record: Any) -> None:
        record.info["file_id"] = _file_id(path)
        if not seen:
            seen.append(True)

    def check(conn: Connection) -> None:
        opened = conn.connection.info.get("file_id")
        now = _file_id(path)
        if opened is not None and now == opened:
            return
        # This connection's file is gone: closing it drops the open transaction (nothing reaches the old
        # file), and a new connection opens whatever is at the path now.
        conn.invalidate()
        what = "deleted" if now is None else "replaced"
        raise StorageError(f"the database file {path.name} was {what} while in use; nothing was written to it")

    def on_checkout(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # An idle connection of the pool that opened an old file is swapped for a new one before anyone uses
        # it (SQLAlchemy reconnects on DisconnectionError), so a sweep after a restore does not meet the stale
        # connections one failed transaction at a time. A deleted file still refuses: before_connect raises.
        opened = record.info.get("file_id")
        if opened is not None and (now := _file_id(path)) != opened:
            log.warning("the database file %s was %s since a pooled connection opened it; that connection is "
                        "dropped", path.name, "deleted" if now is None else "replaced")
            raise DisconnectionError(f"the database file {path.name} changed since this connection opened it")

    event.listen(engine, "do_connect", before_connect)
    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "begin", check)
    # Again just before COMMIT: by then this transaction's writes hold SQLite's write lock, so a deletion
    # made under that lock (a backup tool's, a restore's) cannot slip between the check and the commit, as it
    # could between BEGIN and a write that waited for the lock.
    event.listen(engine, "commit", check)


def describe_db_error(exc: SQLAlchemyError) -> str:
    """One line for a database failure: what happened, never the SQL statement or its parameters.

    SQLAlchemy's own message carries both (new ciphertexts included), so only the driver's error class and a
    known cause are named.
    """
    orig = getattr(exc, "orig", None)
    kind = (orig or exc).__class__.__name__
    text = str(orig).lower() if orig is not None else ""
    for needle, cause in (("lock timeout", "is locked by another writer"),
                          ("statement timeout", "did not answer in time (statement timeout)"),
                          ("locked", "is locked by another writer"), ("readonly", "is read-only"),
                          ("read-only", "is read-only"), ("full", "is full"), ("no such table", "has no tables"),
                          ("unable to open", "cannot be opened"), ("disk i/o", "had a disk I/O error")):
        if needle in text:
            return f"the database {cause} ({kind}); the change was not saved"
    return f"the database refused or is unreachable ({kind}); the change was not saved"


@contextmanager
def storage_errors() -> Iterator[None]:
    """Translate any SQLAlchemy error raised inside into :class:`StorageError` (one line, no SQL)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageError(describe_db_error(exc)) from exc


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


# The migrations were renumbered in chain order and named for their schema change (issue 29). A database
# migrated before that is stamped with an old id that alembic no longer knows ("Can't locate revision"), so
# upgrade() first re-stamps it with the same step's new id: only the name changed, not the schema.
RENAMED_REVISIONS = {
    "0001": "0001_initial_schema",
    "0002_i10_i14_worker_api": "0002_worker_heartbeats_api_keys",
    "0002_i13_fidelity": "0003_pending_installs",
    "0002_i11_security": "0004_install_links_sign_outs",
    "0002_i16_i12_connections": "0005_portal_scopes_list_indexes",
    "0003_app_identity": "0006_app_identity",
    "0004_connection_health": "0007_connection_health",
    "0005_webhooks": "0008_webhooks",
    "0006_audit_read_counts": "0009_audit_read_counts",
    "0007_link_opens": "0010_link_opens",
    "0008_api_usage": "0011_api_usage_read_only_keys",
    "0009_api_key_app_scope_set_app": "0012_api_key_app_scope_set_app",
}


def _restamp_renamed_revision(engine: Engine) -> None:
    with engine.begin() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return  # a new database
        for (stamped,) in conn.execute(text("SELECT version_num FROM alembic_version")).all():
            if stamped in RENAMED_REVISIONS:
                conn.execute(text("UPDATE alembic_version SET version_num = :new WHERE version_num = :old"),
                             {"new": RENAMED_REVISIONS[stamped], "old": stamped})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations; called on every start by the app and the CLI (idempotent)."""
    try:
        _restamp_renamed_revision(engine)
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise StorageError(
            f"cannot open the database to migrate it ({exc.orig.__class__.__name__}); "
            "check DASHBOARD_DATABASE_URL and that the server is running"
        ) from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
