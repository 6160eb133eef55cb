"""Storage (issue #2): migrations match the models (SQLite and PostgreSQL), WAL, long tokens, no plaintext."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlmodel import Session

from dashboard import repository
from dashboard.errors import ConfigurationError, StorageError
from dashboard.models import DEFAULT_APP, Portal
from dashboard.security import vault
from dashboard.security.crypto import KeyRing, TokenCipher, generate_key_entry
from dashboard.storage import db

TABLES = {"portal", "install_attempt", "pending_install", "audit_event", "scope_set", "alembic_version"}


def migrated(url: str) -> Engine:
    engine = db.create_db_engine(url)
    db.upgrade(engine)
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "postgres_url")
    engine = migrated(url)
    yield engine
    engine.dispose()


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(KeyRing.parse(generate_key_entry("k1")))


def store(engine: Engine, cipher: TokenCipher, hub_id: int, tokens: vault.TokenPair, **extra: object) -> None:
    with Session(engine) as session:
        repository.save_portal(session=session, portal=Portal(hub_id=hub_id, **extra,
                                                              **vault.seal(cipher, hub_id, tokens, app=DEFAULT_APP)))
        session.commit()


def load_tokens(engine: Engine, cipher: TokenCipher, hub_id: int) -> vault.TokenPair:
    with Session(engine) as session:
        portal = repository.get_portal(session=session, hub_id=hub_id)
        assert portal is not None
        return vault.open_tokens(cipher, portal)


# --- migrations ----------------------------------------------------------------------------------------

def test_models_and_migrations_agree(engine: Engine) -> None:
    """`alembic check`: autogenerate finds nothing to add, so no model change lacks a migration."""
    command.check(db.alembic_config(engine))


def test_upgrade_is_idempotent(engine: Engine, cipher: TokenCipher) -> None:
    head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    assert db.current_revision(engine) == head
    pair = vault.TokenPair("access-1", "refresh-1")
    store(engine, cipher, 42, pair)
    db.upgrade(engine)
    db.upgrade(engine)
    assert db.current_revision(engine) == head
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert load_tokens(engine, cipher, 42) == pair  # data untouched by a repeated upgrade


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "dashboard.db"
    engine = migrated(f"sqlite:///{path}")
    engine.dispose()
    assert path.is_file()


def test_unreachable_postgres_is_a_storage_error() -> None:
    engine = db.create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    with pytest.raises(StorageError) as info:
        db.upgrade(engine)
    assert "DASHBOARD_DATABASE_URL" in str(info.value)
    engine.dispose()


@pytest.mark.parametrize("url", ["postgresql://u@h:notaport/db", "postgresql+nosuchdriver://u@h/db"])
def test_unusable_url_at_engine_creation_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^DASHBOARD_DATABASE_URL: "):
        db.create_db_engine(url)


# --- SQLite mode ---------------------------------------------------------------------------------------

def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(db_url: str) -> None:
    engine = migrated(db_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            assert timeout == db.SQLITE_BUSY_TIMEOUT_MS
            assert isinstance(timeout, int)
            assert timeout >= 5_000
    finally:
        engine.dispose()


# --- token columns -------------------------------------------------------------------------------------

def test_long_tokens_round_trip(engine: Engine, cipher: TokenCipher) -> None:
    """HubSpot says plan for 512+ characters; the columns hold far more than 2,048."""
    pair = vault.TokenPair(access_token="A" * 3000 + "-end", refresh_token="R" * 3996 + "-end")
    assert len(pair.refresh_token) == 4000
    store(engine, cipher, 7_000_000_001, pair)
    with Session(engine) as session:
        portal = repository.get_portal(session=session, hub_id=7_000_000_001)
        assert portal is not None
        assert portal.refresh_token_ct is not None
        assert len(portal.refresh_token_ct) > 5_000  # the stored form is longer than the token
    assert load_tokens(engine, cipher, 7_000_000_001) == pair


def test_no_plaintext_token_in_the_sqlite_files(db_url: str, tmp_path: Path, cipher: TokenCipher) -> None:
    engine = migrated(db_url)
    access, refresh = "pat-na1-PLAINTEXT-ACCESS-c0ffee42", "na1-PLAINTEXT-REFRESH-deadbeef77"
    marker = "visible-marker-portal.example.com"  # a non-secret column: proves the bytes were read
    for hub_id in (1, 2, 3):
        store(engine, cipher, hub_id, vault.TokenPair(f"{access}-{hub_id}", f"{refresh}-{hub_id}"),
              hub_domain=marker)
    path = tmp_path / "dashboard.db"
    wal = Path(f"{path}-wal")

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in (path, wal) if p.exists())

    before_checkpoint = on_disk()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    for blob in (before_checkpoint, on_disk(), path.read_bytes()):
        assert marker.encode() in blob
        assert b"PLAINTEXT" not in blob
        assert access.encode() not in blob
        assert refresh.encode() not in blob
