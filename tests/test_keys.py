"""Key status and rotation (issue #2), through ``python -m dashboard keys ...`` as a real subprocess.

Rows are written straight through the repository and ``vault.seal`` (this is the storage layer); the rotation
runs in another process, is SIGKILLed midway, and must leave every row readable and resumable.
"""

from __future__ import annotations

import array
import fcntl
import os
import signal
import sqlite3
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import repository
from dashboard.admin import keys
from dashboard.errors import CryptoError
from dashboard.models import DEFAULT_APP, Portal, PortalStatus
from dashboard.security import vault
from dashboard.security.crypto import KeyRing, TokenCipher, generate_key_entry
from dashboard.storage import db
from tests.utils.cli import TEST_CLIENT, cli_command, cli_env, run_cli
from tests.utils.lifecycle import ADMIN

OLD = generate_key_entry("old")
NEW = generate_key_entry("new")
GHOST = generate_key_entry("ghost")
PORTALS = 300


def cipher_for(*entries: str) -> TokenCipher:
    return TokenCipher(KeyRing.parse(",".join(entries)))


def tokens_for(hub_id: int) -> vault.TokenPair:
    return vault.TokenPair(f"access-{hub_id}-{'a' * 40}", f"refresh-{hub_id}-{'r' * 40}")


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "dashboard.db"


@pytest.fixture
def engine(db_file: Path) -> Iterator[Engine]:
    engine = db.create_db_engine(f"sqlite:///{db_file}")
    db.upgrade(engine)
    yield engine
    engine.dispose()


def add_portals(engine: Engine, cipher: TokenCipher, hub_ids: range) -> None:
    with Session(engine) as session:
        for hub_id in hub_ids:
            values = vault.seal(cipher, hub_id, tokens_for(hub_id), app=DEFAULT_APP)
            repository.save_portal(session=session, portal=Portal(hub_id=hub_id, **values))
        session.commit()


def portals(engine: Engine) -> list[Portal]:
    """Every row that holds tokens (no row is on the key id "")."""
    with Session(engine) as session:
        return repository.portals_not_on_key(session=session, key_id="", limit=100_000)


def rows_per_key(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return repository.rows_per_key(session=session)


def assert_all_readable(engine: Engine, cipher: TokenCipher, expected: int = PORTALS) -> None:
    rows = portals(engine)
    assert len(rows) == expected
    for portal in rows:
        assert vault.open_tokens(cipher, portal) == tokens_for(portal.hub_id)


def env_for(db_file: Path, keys_setting: str) -> dict[str, str]:
    return cli_env(**TEST_CLIENT, DASHBOARD_ENCRYPTION_KEYS=keys_setting,
                   DASHBOARD_DATABASE_URL=f"sqlite:///{db_file}",
                   DASHBOARD_DATA_DIR=str(db_file.parent / "data"))


def snapshot(db_file: Path) -> tuple[bytes, list[str]]:
    """The file's bytes and a full SQL dump: what "changes nothing" is checked against."""
    conn = sqlite3.connect(db_file)
    try:
        dump = list(conn.iterdump())
    finally:
        conn.close()
    assert not Path(f"{db_file}-wal").exists() or Path(f"{db_file}-wal").stat().st_size == 0
    return db_file.read_bytes(), dump


# --- status --------------------------------------------------------------------------------------------

def test_status_counts_rows_per_key(engine: Engine, db_file: Path, tmp_path: Path) -> None:
    add_portals(engine, cipher_for(OLD), range(1, 8))
    add_portals(engine, cipher_for(NEW), range(8, 11))
    add_portals(engine, cipher_for(GHOST), range(11, 13))
    with Session(engine) as session:  # a revoked portal holds no tokens and no key id
        repository.save_portal(session=session, portal=Portal(hub_id=99, status=PortalStatus.REVOKED))
        session.commit()

    status = keys.key_status(engine, cipher_for(NEW, OLD), actor=ADMIN)
    assert status.rows_per_key == {"old": 7, "new": 3, "ghost": 2}
    assert status.unknown_key_ids == ["ghost"]
    assert status.rows_to_rotate == 9

    engine.dispose()
    done = run_cli("keys", "status", env=env_for(db_file, f"{NEW},{OLD}"), cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # unreadable rows make status fail
    lines = done.stdout.splitlines()
    assert lines[0] == "primary key: new"
    assert "new: 3 rows" in lines
    assert "old: 7 rows" in lines
    assert "ghost: 2 rows  (NOT CONFIGURED: rows unreadable)" in lines
    assert lines[-2:] == ["rows to rotate: 9", "unreadable rows: 2"]
    assert "unreadable: hub 11: key id 'ghost', its key is not configured" in done.stderr


def test_status_succeeds_when_every_key_is_configured(engine: Engine, db_file: Path, tmp_path: Path) -> None:
    add_portals(engine, cipher_for(OLD), range(1, 4))
    engine.dispose()
    done = run_cli("keys", "status", env=env_for(db_file, f"{NEW},{OLD}"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["primary key: new", "new: 0 rows", "old: 3 rows",
                                        "rows on the old binding (hub id only): 0", "rows to rotate: 3"]


# --- rotation ------------------------------------------------------------------------------------------

def _bytes_waiting(fd: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return buf[0]


def test_rotation_killed_midway_stays_readable_and_resumes(
    engine: Engine, db_file: Path, tmp_path: Path,
) -> None:
    add_portals(engine, cipher_for(OLD), range(1, PORTALS + 1))
    engine.dispose()
    env = env_for(db_file, f"{NEW},{OLD}")

    # Deterministic "midway": stderr is a pipe pre-filled so that exactly the first progress line fits.
    # The child then blocks writing its second line (after at most one more committed batch), and we
    # SIGKILL it there: no race with a fast machine finishing all 30 batches first.
    first_line = b"rotated 10 rows\n"
    read_end, write_end = os.pipe()
    capacity = fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ)
    os.write(write_end, b"#" * (capacity - len(first_line)))
    proc = subprocess.Popen(cli_command("keys", "rotate", "--batch-size", "10"), env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=write_end)
    os.close(write_end)
    try:
        deadline = time.monotonic() + 30
        while _bytes_waiting(read_end) < capacity:
            assert proc.poll() is None, "rotation exited before its first progress line"
            assert time.monotonic() < deadline, "no progress line within 30 s"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        with os.fdopen(read_end, "rb") as pipe:
            assert pipe.read().lstrip(b"#") == first_line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    engine = db.create_db_engine(f"sqlite:///{db_file}")
    try:
        counts = rows_per_key(engine)
        assert counts["new"] in (10, 20)  # whole batches only
        assert counts["new"] + counts["old"] == PORTALS
        assert_all_readable(engine, cipher_for(NEW, OLD))  # the interrupted state is fully readable
    finally:
        engine.dispose()

    done = run_cli("keys", "rotate", "--batch-size", "10", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"rotated {counts['old']} rows to key new; remaining 0"

    engine = db.create_db_engine(f"sqlite:///{db_file}")
    try:
        assert rows_per_key(engine) == {"new": PORTALS}
        assert_all_readable(engine, cipher_for(NEW))  # the old key is no longer needed
        versions = {p.token_version for p in portals(engine)}
        assert versions == {1}  # every row rewritten exactly once across both runs
    finally:
        engine.dispose()

    status = run_cli("keys", "status", env=cli_env(**{**env, "DASHBOARD_ENCRYPTION_KEYS": NEW}), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "rows to rotate: 0" in status.stdout


def token_rows(engine: Engine) -> list[tuple[int, str | None, str | None, int]]:
    return sorted((p.hub_id, p.key_id, p.access_token_ct, p.token_version) for p in portals(engine))


def corrupt(engine: Engine, hub_id: int) -> None:
    """Flip the ciphertext of one row to another valid-looking value (a damaged or moved ciphertext)."""
    with Session(engine) as session:
        portal = repository.get_portal(session=session, hub_id=hub_id)
        assert portal is not None and portal.access_token_ct is not None
        other = vault.seal(cipher_for(OLD), hub_id + 1, tokens_for(hub_id), app=DEFAULT_APP)  # bound to another row
        repository.update_portal(session=session, hub_id=hub_id, values={"access_token_ct": other["access_token_ct"]})
        session.commit()


@pytest.mark.parametrize(("keys_setting", "reason"), [
    (NEW, "key_missing"),                                    # old key missing
    (f"{NEW},{generate_key_entry('old')}", "undecryptable"),  # a different key under the id "old"
], ids=["old-key-missing", "old-key-wrong"])
def test_missing_or_wrong_key_is_counted_and_changes_no_row(
    engine: Engine, db_file: Path, tmp_path: Path, keys_setting: str, reason: str,
) -> None:
    """Issue #10: the run goes past every unreadable row, names each (hub and key id), ends with a count
    and a non-zero exit, and changes none of them."""
    add_portals(engine, cipher_for(OLD), range(1, 31))
    engine.dispose()
    before = token_rows(engine)

    done = run_cli("keys", "rotate", "--batch-size", "10", env=env_for(db_file, keys_setting), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "rotated 0 rows to key new; remaining 30; could not read 30"
    named = [line for line in done.stderr.splitlines() if line.startswith("could not read hub ")]
    assert len(named) == 30 and all("key id 'old'" in line for line in named)
    assert "Traceback" not in done.stderr
    for secret in (OLD, NEW, keys_setting):
        assert secret.split(":", 1)[1] not in done.stderr + done.stdout
    assert token_rows(engine) == before

    result = keys.rotate_keys(engine, cipher_for(keys_setting), actor=ADMIN, batch_size=10)
    assert result.rotated == 0 and result.remaining == 30
    assert sorted(r.hub_id for r in result.unreadable) == list(range(1, 31))
    assert {r.reason for r in result.unreadable} == {reason}
    assert token_rows(engine) == before


def test_rotation_continues_past_unreadable_rows(engine: Engine, db_file: Path, tmp_path: Path) -> None:
    """Unreadable rows scattered among readable ones, more of them than a batch: every readable row is
    rotated, every unreadable one is left as it was and counted; status fails until they are gone."""
    add_portals(engine, cipher_for(OLD), range(1, 51))
    add_portals(engine, cipher_for(GHOST), range(51, 66))  # 15 ghost rows: more than a batch of 10
    add_portals(engine, cipher_for(OLD), range(66, 80))
    corrupt(engine, 7)
    ghost_before = [r for r in token_rows(engine) if r[1] == "ghost" or r[0] == 7]

    result = keys.rotate_keys(engine, cipher_for(NEW, OLD), actor=ADMIN, batch_size=10)
    assert result.rotated == 63
    assert sorted(r.hub_id for r in result.unreadable) == [7, *range(51, 66)]
    assert {r.hub_id: r.reason for r in result.unreadable}[7] == "undecryptable"
    assert [r for r in token_rows(engine) if r[1] == "ghost" or r[0] == 7] == ghost_before
    assert rows_per_key(engine) == {"new": 63, "old": 1, "ghost": 15}

    engine.dispose()
    done = run_cli("keys", "status", env=env_for(db_file, f"{NEW},{OLD},{GHOST}"), cwd=tmp_path)
    assert done.returncode == 1, "a damaged ciphertext keeps status failing although every key is configured"
    assert done.stdout.splitlines()[-1] == "unreadable rows: 1"
    assert "hub 7: key id 'old'" in done.stderr


def test_wrong_primary_key_is_refused_before_any_write(engine: Engine) -> None:
    add_portals(engine, cipher_for(NEW), range(1, 6))
    add_portals(engine, cipher_for(OLD), range(6, 21))
    impostor_new = generate_key_entry("new")
    with pytest.raises(CryptoError, match="'new'"):
        keys.rotate_keys(engine, cipher_for(impostor_new, OLD), actor=ADMIN, batch_size=10)
    assert rows_per_key(engine) == {"new": 5, "old": 15}


def test_rotation_in_process_reports_progress(engine: Engine) -> None:
    add_portals(engine, cipher_for(OLD), range(1, 26))
    progress: list[int] = []
    result = keys.rotate_keys(engine, cipher_for(NEW, OLD), actor=ADMIN, batch_size=10,
                              on_batch=progress.append)
    assert progress == [10, 20, 25]
    assert (result.rotated, result.skipped_concurrent, result.remaining) == (25, 0, 0)
    assert_all_readable(engine, cipher_for(NEW), expected=25)
