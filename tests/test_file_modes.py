"""Files at rest: the SQLite database, its WAL/SHM/journal files and the key file 0600, the data dir 0700."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import text

from dashboard.context import build_context
from dashboard.storage import db
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


def loosen(path: Path) -> None:
    os.chmod(path, 0o644)
    assert mode(path) == 0o644


def test_a_loose_key_file_and_spill_journal_are_tightened_by_the_cli_with_a_warning(tmp_path: Path) -> None:
    from dashboard.security.crypto import load_or_create_sandbox_key
    from tests.utils.cli import cli_env, run_cli

    data = tmp_path / "data"
    load_or_create_sandbox_key(data)  # sandbox mode's generated key
    key, journal_file = data / "sandbox-encryption.key", data / "token-journal.jsonl"
    journal_file.write_text("")
    loosen(key)
    loosen(journal_file)
    env = cli_env(DASHBOARD_DATA_DIR=str(data))  # no DASHBOARD_DATABASE_URL: the database goes there too
    proc = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert mode(key) == 0o600 and mode(journal_file) == 0o600
    assert f"{key} was mode 0644" in proc.stderr and f"{journal_file} was mode 0644" in proc.stderr
    assert (data / "dashboard.db").is_file() and not (tmp_path / "data" / "data").exists()
    again = run_cli("db", "upgrade", env=env, cwd=tmp_path)  # nothing loose: nothing said
    assert again.returncode == 0 and "was mode" not in again.stderr


def test_every_opener_of_the_key_file_and_the_journal_tightens_it(tmp_path: Path, settings_factory: Any,
                                                                  caplog: Any) -> None:
    from dashboard.refresh import journal
    from dashboard.security.crypto import load_or_create_sandbox_key

    data = tmp_path / "data"
    first = load_or_create_sandbox_key(data)
    loosen(data / "sandbox-encryption.key")
    assert load_or_create_sandbox_key(data) == first
    assert mode(data / "sandbox-encryption.key") == 0o600
    ctx = build_context(settings_factory(dashboard_data_dir=data), start_sandbox=False)
    try:
        assert journal.append(ctx, journal.Entry(7, 1, {"status": "active"}, "worker:test", "refresh"))
        loosen(journal.path(ctx))
        assert journal.size(ctx) == 1 and mode(journal.path(ctx)) == 0o600
        loosen(journal.path(ctx))
        assert journal.append(ctx, journal.Entry(8, 1, {"status": "active"}, "worker:test", "refresh"))
        assert mode(journal.path(ctx)) == 0o600
    finally:
        ctx.close()
    assert sum("was mode 0644" in r.getMessage() for r in caplog.records) >= 3


def test_the_data_dir_setting_moves_the_default_database(tmp_path: Path) -> None:
    from dashboard.settings import load_settings

    elsewhere = tmp_path / "state"
    settings = load_settings({"DASHBOARD_DATA_DIR": str(elsewhere)}, secrets_path=None)
    assert settings.dashboard_database_url == f"sqlite:///{elsewhere / 'dashboard.db'}"
    assert load_settings({}, secrets_path=None).dashboard_database_url == "sqlite:///data/dashboard.db"
    explicit = load_settings({"DASHBOARD_DATA_DIR": str(elsewhere),
                              "DASHBOARD_DATABASE_URL": "sqlite:///other.db"}, secrets_path=None)
    assert explicit.dashboard_database_url == "sqlite:///other.db"
