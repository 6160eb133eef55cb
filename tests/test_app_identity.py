"""Connection identity is (app, hub_id) (issue 15 item 10): the migration from hub-id-keyed rows, the
versioned encryption binding, and two apps' connections to one account kept apart.

The migration test builds a database with the previous schema (upgrade to 0005_portal_scopes_list_indexes), writes
portals whose tokens are sealed the previous way (associated data ``hubspot-portal:{hub_id}:{field}``, written
out here rather than taken from the new code), upgrades to head and opens every token through the real
repository and vault, on SQLite and on PostgreSQL, for random populations (hypothesis).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect
from sqlmodel import Session

from dashboard import repository
from dashboard.admin import keys
from dashboard.errors import CryptoError
from dashboard.models import DEFAULT_APP, Portal, utcnow
from dashboard.security import vault
from dashboard.security.crypto import (
    BINDING_LATEST,
    BINDING_V1,
    KeyRing,
    TokenCipher,
    associated_data,
    generate_key_entry,
)
from dashboard.storage import db
from dashboard.storage.locks import DatabaseLeases, RedisLeases
from tests.utils.lifecycle import ADMIN

PREVIOUS = "0005_portal_scopes_list_indexes"
ENTRY = generate_key_entry("k1")
HUB_IDS = st.integers(min_value=1, max_value=2**53)
TOKEN = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=512)
SCOPES = st.lists(st.sampled_from(["oauth", "crm.objects.contacts.read", "crm.objects.deals.write", "tickets"]),
                  unique=True, max_size=4)
# hub id -> (access, refresh) or None (a revoked row: no tokens), and its granted scopes
POPULATION = st.dictionaries(HUB_IDS, st.tuples(st.one_of(st.none(), st.tuples(TOKEN, TOKEN)), SCOPES),
                             min_size=1, max_size=40)


def cipher() -> TokenCipher:
    return TokenCipher(KeyRing.parse(ENTRY))


def old_aad(hub_id: int, field: str) -> bytes:
    return f"hubspot-portal:{hub_id}:{field}".encode()  # the binding before apps, as the previous code wrote it


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A factory of empty databases (one per hypothesis example), dropped afterwards."""
    made: list[str] = []
    admin: Engine | None = None
    if request.param == "postgresql":
        server = str(request.getfixturevalue("postgres_server_url"))
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")

    def make() -> str:
        name = f"dash_test_{uuid.uuid4().hex[:12]}"
        if admin is None:
            return f"sqlite:///{tmp_path / (name + '.db')}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return f"{str(admin.url).rsplit('/', 1)[0]}/{name}"

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for name in made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_v1_binding_is_the_previous_associated_data() -> None:
    assert associated_data(7, vault.ACCESS, binding=BINDING_V1) == old_aad(7, vault.ACCESS)
    assert associated_data(7, vault.ACCESS, app="default", binding=2) != old_aad(7, vault.ACCESS)


def _write_previous_schema_rows(engine: Engine, population: dict[int, tuple[tuple[str, str] | None,
                                                                            list[str]]]) -> None:
    c = cipher()
    portal = sa.Table("portal", sa.MetaData(), autoload_with=engine)
    scope = sa.Table("portal_scope", sa.MetaData(), autoload_with=engine)
    rows, scope_rows = [], []
    for hub_id, (tokens, granted) in population.items():
        row = {"hub_id": hub_id, "requested_scopes": "", "requested_optional_scopes": "",
               "granted_scopes": " ".join(granted), "status": "active" if tokens else "revoked",
               "consecutive_failures": 0, "token_version": 3, "expires_at": utcnow() + timedelta(hours=1),
               "access_token_ct": None, "refresh_token_ct": None, "key_id": None}
        if tokens is not None:
            kid, access = c.encrypt(tokens[0], aad=old_aad(hub_id, vault.ACCESS))
            _, refresh = c.encrypt(tokens[1], aad=old_aad(hub_id, vault.REFRESH))
            row.update(access_token_ct=access, refresh_token_ct=refresh, key_id=kid)
        rows.append(row)
        scope_rows += [{"scope": s, "hub_id": hub_id} for s in granted]
    with engine.begin() as conn:
        conn.execute(portal.insert(), rows)
        if scope_rows:
            conn.execute(scope.insert(), scope_rows)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(population=POPULATION)
def test_migration_keeps_every_token_readable(fresh_db: object, population: dict[int, tuple[
        tuple[str, str] | None, list[str]]]) -> None:
    assert callable(fresh_db)
    engine = db.create_db_engine(fresh_db())
    try:
        db.upgrade(engine, PREVIOUS)
        _write_previous_schema_rows(engine, population)
        db.upgrade(engine)

        insp = inspect(engine)
        assert insp.get_pk_constraint("portal")["constrained_columns"] == ["app", "hub_id"]
        assert insp.get_pk_constraint("portal_scope")["constrained_columns"] == ["app", "scope", "hub_id"]
        c = cipher()
        with Session(engine) as session:  # no app in the session: the default app, as migrated rows have
            for hub_id, (tokens, _) in population.items():
                portal = repository.get_portal(session=session, hub_id=hub_id)
                assert portal is not None and portal.app == DEFAULT_APP and portal.binding == BINDING_V1
                if tokens is None:
                    with pytest.raises(CryptoError):
                        vault.open_tokens(c, portal)
                else:
                    assert vault.open_tokens(c, portal) == vault.TokenPair(*tokens)
            scope_rows = session.connection().execute(
                sa.text("select app, scope, hub_id from portal_scope")).fetchall()
        assert sorted(scope_rows) == sorted((DEFAULT_APP, s, h) for h, (_, g) in population.items() for s in g)

        # `keys status` counts the rows still on the old binding: every migrated row holding tokens.
        with_tokens = {h: t for h, (t, _) in population.items() if t is not None}
        before = keys.key_status(engine, c, actor=ADMIN)
        assert before.old_binding == before.old_binding_on_primary == before.rows_to_rotate == len(with_tokens)
        # `keys rotate` re-binds every old row to the newest version (same key), and each still opens.
        result = keys.rotate_keys(engine, c, actor=ADMIN, batch_size=7)
        assert result.rotated == len(with_tokens) and not result.unreadable
        with Session(engine) as session:
            for hub_id, tokens in with_tokens.items():
                portal = repository.get_portal(session=session, hub_id=hub_id)
                assert portal is not None and portal.binding == BINDING_LATEST
                assert vault.open_tokens(c, portal) == vault.TokenPair(*tokens)
        assert keys.rotate_keys(engine, c, actor=ADMIN).rotated == 0  # nothing left to re-bind
        after = keys.key_status(engine, c, actor=ADMIN)
        assert after.old_binding == after.rows_to_rotate == 0
    finally:
        engine.dispose()


def _session(engine: Engine, app: str) -> Session:
    return Session(engine, info={"app": app})


def test_two_apps_keep_apart_on_one_account(any_db_url: str) -> None:
    """Same hub id under two apps: two rows, two scope sets, tokens bound to their app, separate leases."""
    engine = db.create_db_engine(any_db_url)
    db.upgrade(engine)
    c = cipher()
    try:
        for app, scopes in (("app-a", "oauth tickets"), ("app-b", "oauth")):
            with _session(engine, app) as session:
                repository.save_portal(session=session, portal=Portal(
                    app=app, hub_id=42, granted_scopes=scopes,
                    **vault.seal(c, 42, vault.TokenPair(f"{app}-access", f"{app}-refresh"), app=app)))
                session.commit()
        moved: dict[str, str | None] = {}
        for app in ("app-a", "app-b"):
            with _session(engine, app) as session:
                portal = repository.get_portal(session=session, hub_id=42)
                assert portal is not None and portal.app == app
                assert vault.open_tokens(c, portal).access_token == f"{app}-access"
                moved[app] = portal.access_token_ct
        with _session(engine, "app-b") as session:  # app-a's ciphertext copied into app-b's row fails
            portal = repository.get_portal(session=session, hub_id=42)
            assert portal is not None
            portal.access_token_ct = moved["app-a"]
            with pytest.raises(CryptoError):
                vault.open_tokens(c, portal)
        with _session(engine, "app-a") as session:
            assert repository.update_portal(session=session, hub_id=42, values={"granted_scopes": "tickets"})
            session.commit()
        with _session(engine, "app-b") as session:
            portal = repository.get_portal(session=session, hub_id=42)
            assert portal is not None and portal.granted_scopes == "oauth"  # the other app's row untouched
            pairs = session.connection().execute(
                sa.text("select app, scope from portal_scope where hub_id = 42")).fetchall()
        assert sorted(pairs) == [("app-a", "tickets"), ("app-b", "oauth")]

        a, b = DatabaseLeases(engine, app="app-a"), DatabaseLeases(engine, app="app-b")
        ttl = timedelta(seconds=30)
        assert a.acquire(42, "w1", ttl) and b.acquire(42, "w2", ttl)  # one lease per connection
        assert not a.acquire(42, "w3", ttl)
        a.release(42, "w1")
        assert a.acquire(42, "w3", ttl)
    finally:
        engine.dispose()


def test_redis_lease_keys_name_the_app(redis_url: str, redis_prefix: str) -> None:
    a = RedisLeases(redis_url, prefix=redis_prefix, app="app-a")
    b = RedisLeases(redis_url, prefix=redis_prefix, app="app-b")
    try:
        ttl = timedelta(seconds=30)
        assert a.acquire(42, "w1", ttl) and b.acquire(42, "w2", ttl)
        assert not b.acquire(42, "w3", ttl)
    finally:
        a.close()
        b.close()


def test_app_id_setting_is_validated(settings_factory: object) -> None:
    from dashboard.errors import ConfigurationError

    assert callable(settings_factory)
    assert settings_factory().dashboard_app_id == DEFAULT_APP
    with pytest.raises((ConfigurationError, ValueError)):
        settings_factory(dashboard_app_id="a:b")


def test_links_pending_installs_states_and_audit_belong_to_their_app(any_db_url: str) -> None:
    from dashboard.models import AuditEvent, InstallAttempt, InstallLink, PendingInstall

    engine = db.create_db_engine(any_db_url)
    db.upgrade(engine)
    now = utcnow()
    try:
        with _session(engine, "app-a") as session:
            repository.add_install_link(session=session, link=InstallLink(
                link_hash="h" * 64, created_by="ana@example.com", expires_at=now + timedelta(days=1)))
            repository.add_pending_install(session=session, record=PendingInstall(
                ref="r1", access_token_ct="x", refresh_token_ct="y", key_id="k1", actor="ana@example.com",
                expires_at=now + timedelta(days=1), created_at=now))
            repository.add_install_attempt(session=session, attempt=InstallAttempt(
                state_hash="s" * 64, redirect_uri="http://localhost/cb", actor="ana@example.com",
                expires_at=now + timedelta(minutes=10)))
            repository.add_audit_event(session=session, event=AuditEvent(
                at=now, actor="ana@example.com", hub_id=42, action="install", outcome="success"))
            session.commit()
        for app, seen in (("app-a", 1), ("app-b", 0)):
            with _session(engine, app) as session:
                assert len(repository.list_install_links(session=session)) == seen
                assert (repository.get_install_link(session=session, link_hash="h" * 64) is not None) == bool(seen)
                assert len(repository.list_pending_installs(session=session)) == seen
                assert (repository.get_install_attempt(session=session, state_hash="s" * 64) is not None) == bool(seen)
                assert len(repository.list_audit_events(session=session, hub_id=42)) == seen
                assert len(repository.list_audit_events(session=session)) == 1  # the trail as a whole
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(any_db_url: str) -> None:
    from alembic import command

    engine = db.create_db_engine(any_db_url)
    try:
        db.upgrade(engine)
        command.downgrade(db.alembic_config(engine), PREVIOUS)
        assert inspect(engine).get_pk_constraint("portal")["constrained_columns"] == ["hub_id"]
        assert "app" not in {c["name"] for c in inspect(engine).get_columns("audit_event")}
        db.upgrade(engine)
        assert inspect(engine).get_pk_constraint("portal")["constrained_columns"] == ["app", "hub_id"]
    finally:
        engine.dispose()
