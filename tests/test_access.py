"""Roles enforced in the services: each role on each action, allowed or denied and audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dashboard import repository
from dashboard.actors import ADMIN, OPERATOR, VIEWER, Actor
from dashboard.admin import keys
from dashboard.connections import service as connections
from dashboard.errors import ConfigurationError, PermissionDeniedError
from dashboard.installs import flow as install
from dashboard.installs import scope_sets
from dashboard.refresh import service as refresh
from dashboard.scopes.catalog import ScopeSet
from dashboard.security import access
from tests.utils.lifecycle import install_portal


def _actions(ctx: Any, hub: int) -> dict[str, Callable[[Actor], object]]:
    return {
        "connections.list": lambda a: connections.list_connections(ctx, actor=a),
        "install.start": lambda a: install.start_install(ctx, actor=a, scopes=["oauth"]),
        "refresh": lambda a: refresh.refresh_portal(ctx, hub, actor=a, force=True),
        "test": lambda a: connections.test_connection(ctx, hub, actor=a),
        "scope_sets.save": lambda a: scope_sets.save_scope_set(ctx, "s", ScopeSet.from_lists(["oauth"]), actor=a),
        "keys.rotate": lambda a: keys.rotate_keys(ctx.engine, ctx.cipher, actor=a),
        "revoke": lambda a: connections.revoke(ctx, hub, actor=a),
    }


ALLOWED = {
    VIEWER: {"connections.list"},
    OPERATOR: {"connections.list", "install.start", "refresh", "test", "scope_sets.save"},
    ADMIN: {"connections.list", "install.start", "refresh", "test", "scope_sets.save", "keys.rotate", "revoke"},
}


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMIN])
def test_each_role_on_each_action(ctx: Any, sandbox: Any, role: str) -> None:
    hub = install_portal(ctx, sandbox.url).hub_id
    actor = Actor(f"{role}@example.com", role)
    for action, call in _actions(ctx, hub).items():
        if action in ALLOWED[role]:
            call(actor)
        else:
            with pytest.raises(PermissionDeniedError, match="ask an admin"):
                call(actor)
            with ctx.session() as s:
                denied = repository.list_audit_events(session=s, actor=actor.name, outcome="denied", action=action)
            assert denied, f"{role} denied {action} without an audit event"


def test_every_audit_event_names_the_actor(ctx: Any, sandbox: Any) -> None:
    install_portal(ctx, sandbox.url)
    with ctx.session() as s:
        events = repository.list_audit_events(session=s)
    assert events and all(e.actor for e in events)


def test_roles_from_settings(settings_factory: Any) -> None:
    s = settings_factory(dashboard_admins="boss@example.com", dashboard_operators="@example.com",
                         dashboard_viewers="@partner.io, auditor@example.com")
    assert access.role_for("boss@example.com", s) == ADMIN
    assert access.role_for("Someone@Example.com", s) == OPERATOR
    assert access.role_for("auditor@example.com", s) == VIEWER  # an exact email beats the domain rule
    assert access.role_for("x@partner.io", s) == VIEWER
    assert access.role_for("x@elsewhere.org", s) is None
    assert access.role_for(None, s) is None
    with pytest.raises(ConfigurationError, match="DASHBOARD_ADMINS"):
        settings_factory(dashboard_admins="not an email")


@pytest.mark.parametrize(("address", "allowed"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                  ("0.0.0.0", False), ("", False), ("10.1.2.3", False)])
def test_no_sign_in_only_on_loopback(settings: Any, address: str, allowed: bool) -> None:
    d = access.decide(sign_in_configured=False, logged_in=False, email=None, server_address=address,
                      settings=settings)
    assert d.no_sign_in
    assert (d.actor is not None) is allowed
    if allowed:
        assert d.actor == access.LOCAL_ADMIN
    else:
        assert "sign-in" in d.reason


def test_signed_in_user_without_role_gets_no_access_and_whom_to_ask(settings_factory: Any) -> None:
    s = settings_factory(dashboard_admins="boss@example.com")
    d = access.decide(sign_in_configured=True, logged_in=True, email="stranger@example.org",
                      server_address="0.0.0.0", settings=s)
    assert d.actor is None and "boss@example.com" in d.reason
    d = access.decide(sign_in_configured=True, logged_in=True, email="boss@example.com",
                      server_address="0.0.0.0", settings=s)
    assert d.actor == Actor("boss@example.com", ADMIN)
