"""Migrations named for their schema change (issue 29): a database stamped with a revision id from before
the renaming upgrades to head, with the same schema as a new database, on SQLite and on PostgreSQL.

A database migrated by the old chain up to an old id has the schema of the renamed step it maps to (only
names changed), so each one is built by upgrading to that step and writing the old id into
``alembic_version``, as the old code left it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from dashboard.storage import db

ALEMBIC_VERSION_WIDTH = 32  # alembic_version.version_num is VARCHAR(32); PostgreSQL enforces it


def chain() -> list[str]:
    """Revision ids from the first migration to head."""
    script = ScriptDirectory.from_config(db.alembic_config(sa.create_engine("sqlite://")))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def schema(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys and indexes as reflected (the version table aside)."""
    insp = inspect(engine)
    return {table: {
        "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                          for c in insp.get_columns(table)),
        "primary key": insp.get_pk_constraint(table)["constrained_columns"],
        "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)),
        "foreign keys": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                               for f in insp.get_foreign_keys(table)),
        "unique": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
    } for table in sorted(insp.get_table_names()) if table != "alembic_version"}


def stamped(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    """A factory of engines on empty databases, disposed of (and dropped) afterwards."""
    engines: list[Engine] = []
    names: list[str] = []
    admin: Engine | None = None
    if request.param == "postgresql":
        admin = sa.create_engine(str(request.getfixturevalue("postgres_server_url")), isolation_level="AUTOCOMMIT")

    def make() -> Engine:
        name = f"dash_test_{uuid.uuid4().hex[:12]}"
        if admin is None:
            url = f"sqlite:///{tmp_path / name}.db"
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            names.append(name)
            url = admin.url.set(database=name).render_as_string(hide_password=False)
        engines.append(db.create_db_engine(url))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_renamed_chain_is_mapped_in_order() -> None:
    """Every old id maps to a step of today's chain, in the order the old down_revisions gave; no new id is
    an old one (a database could not tell which it holds) and each fits the version table."""
    assert list(db.RENAMED_REVISIONS.values()) == chain()
    assert not set(db.RENAMED_REVISIONS) & set(chain())
    assert all(len(r) <= ALEMBIC_VERSION_WIDTH for r in chain())
    for number, revision in enumerate(chain(), start=1):
        assert revision.startswith(f"{number:04d}_")  # numbered in chain order, one number each


@pytest.mark.parametrize("old", list(db.RENAMED_REVISIONS))
def test_a_database_stamped_with_an_old_id_upgrades_to_head(new_engine: Callable[[], Engine], old: str) -> None:
    fresh = new_engine()
    db.upgrade(fresh)

    engine = new_engine()
    db.upgrade(engine, db.RENAMED_REVISIONS[old])
    with engine.begin() as conn:  # as the code before the renaming left it
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :old"), {"old": old})
    assert stamped(engine) == [old]

    db.upgrade(engine)
    assert stamped(engine) == [chain()[-1]]
    assert schema(engine) == schema(fresh)
    db.upgrade(engine)  # and again: nothing left to map
    assert stamped(engine) == [chain()[-1]]
