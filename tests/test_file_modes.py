"""Files at rest: the SQLite database, its WAL/SHM/journal files and the key file 0600, the data dir 0700."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import text

from dashboard import db
from dashboard.context import build_context
from tests.utils.lifecycle import FAST_RETRY


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_sidecars_and_data_dir_are_private_whatever_the_umask(tmp_path: Path, sandbox: Any,
                                                                       settings_factory: Any) -> None:
    data = tmp_path / "data"
    old = os.umask(0o022)  # the usual umask, which would make them 0644 / 0755
    try:
        settings = settings_factory(dashboard_database_url=f"sqlite:///{data / 'dashboard.db'}",
                                    dashboard_data_dir=data, dashboard_encryption_keys=None)
        ctx = build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)
        try:
            with ctx.engine.connect() as conn:  # a write, so the WAL and SHM files exist
                conn.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
                conn.execute(text("INSERT INTO probe VALUES (1)"))
                conn.commit()
                files = sorted(p.name for p in data.iterdir())
                assert {"dashboard.db", "dashboard.db-wal", "dashboard.db-shm"} <= set(files)
                for name in files:
                    assert mode(data / name) == 0o600, name  # includes the sandbox key file
            assert mode(data) == 0o700
        finally:
            ctx.close()
    finally:
        os.umask(old)


def test_rollback_journal_is_private(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    old = os.umask(0o022)
    try:
        engine = db.create_db_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
            conn.exec_driver_sql("PRAGMA locking_mode=EXCLUSIVE")  # keep the journal file after the commit
            conn.exec_driver_sql("PRAGMA journal_mode=PERSIST")
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.commit()
            assert mode(tmp_path / "j.db-journal") == 0o600
        engine.dispose()
    finally:
        os.umask(old)


def test_loose_files_from_an_older_version_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir()
    for name in ("dashboard.db", "dashboard.db-wal", "dashboard.db-shm"):
        (data / name).touch()
        os.chmod(data / name, 0o644)
    (data / "dashboard.db-wal").unlink()  # an empty WAL is not a database; only the file modes matter here
    (data / "dashboard.db-shm").unlink()
    engine = db.create_db_engine(f"sqlite:///{data / 'dashboard.db'}")
    engine.dispose()
    assert mode(data / "dashboard.db") == 0o600
