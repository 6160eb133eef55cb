"""Sign-in and roles in the pages: the banner, the refusals, and roles enforced by the services behind buttons."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from dashboard import repository
from dashboard.connections import service as connections
from dashboard.context import AppContext
from dashboard.installs.flow import InstallResult
from dashboard.ui.auth import NO_SIGN_IN_BANNER
from tests.utils.lifecycle import ADMIN
from tests.utils.pages import APP, GLOBEX, INITECH, TIMEOUT, messages, select_hubs, table

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-cookie-secret-0123456789",
        "client_id": "dashboard", "client_secret": "oidc-test-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
ROLES = {"DASHBOARD_ADMINS": "boss@example.com", "DASHBOARD_OPERATORS": "@ops.example.com",
         "DASHBOARD_VIEWERS": "@example.com"}


@pytest.fixture
def roles_env(monkeypatch: pytest.MonkeyPatch, ui_env: None) -> None:
    for name, value in ROLES.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def signed_in(roles_env: None) -> Callable[[str | None], AppTest]:
    """The app with sign-in configured, as ``email`` (None: not signed in)."""
    def run(email: str | None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": email} if email else {"is_logged_in": False}
        at.run()
        assert not at.exception, at.exception
        return at

    return run


@pytest.fixture
def listening_everywhere() -> Iterator[None]:
    previous = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    yield
    st_config.set_option("server.address", previous)


def test_no_sign_in_on_loopback_shows_the_banner_and_acts_as_local_admin(
        open_page: Any, seeded: dict[int, InstallResult]) -> None:
    at = open_page()
    assert any(NO_SIGN_IN_BANNER in m for m in messages(at, "warning"))
    assert "local-admin" in " ".join(str(c.value) for c in at.sidebar.caption)
    assert len(table(at)) == 3


def test_no_sign_in_on_a_public_address_shows_no_data(
        ui_env: None, seeded: dict[int, InstallResult], listening_everywhere: None) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert not at.dataframe and not at.metric
    assert any("without sign-in" in m and "[auth]" in m for m in messages(at, "error"))


def test_not_signed_in_sees_only_the_sign_in_button(signed_in: Any, seeded: dict[int, InstallResult]) -> None:
    at = signed_in(None)
    assert at.button(key="auth_login")
    assert not at.dataframe


def test_signed_in_without_a_role_sees_no_access_and_whom_to_ask(
        signed_in: Any, seeded: dict[int, InstallResult]) -> None:
    at = signed_in("stranger@elsewhere.org")
    assert not at.dataframe
    assert any("no role" in m and "boss@example.com" in m for m in messages(at, "error"))


def test_viewer_sees_everything_but_actions_are_refused_and_audited(
        signed_in: Any, ctx: AppContext, seeded: dict[int, InstallResult]) -> None:
    at = signed_in("ana@example.com")
    assert len(table(at)) == 3
    assert not any(NO_SIGN_IN_BANNER in m for m in messages(at, "warning"))
    at = select_hubs(at, GLOBEX)
    at.button(key="conn_refresh").click().run()
    assert not at.exception
    assert any("may not refresh" in m and "operator" in m for m in messages(at, "error"))
    with ctx.session() as s:
        denied = repository.list_audit_events(session=s, actor="ana@example.com", outcome="denied")
    assert [e.action for e in denied] == ["refresh"]


def test_viewer_bulk_refresh_says_not_allowed_for_the_role(
        signed_in: Any, ctx: AppContext, seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(signed_in("ana@example.com"), GLOBEX, INITECH)
    at.button(key="conn_bulk_refresh").click().run()
    assert not at.exception
    errors = messages(at, "error")
    assert any(m.startswith("Not refreshed: not allowed for your role (viewer).") and "operator" in m
               for m in errors), errors
    shown = " ".join(errors + messages(at, "warning") + messages(at, "success"))
    assert "Refreshed 0 of" not in shown and "(failed)" not in shown
    with ctx.session() as s:
        denied = repository.list_audit_events(session=s, actor="ana@example.com", outcome="denied")
    assert [e.action for e in denied] == ["refresh"]  # refused once, not once per selected portal


def test_operator_refreshes_but_may_not_revoke(signed_in: Any, ctx: AppContext,
                                               seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(signed_in("olga@ops.example.com"), INITECH)
    at.button(key="conn_refresh").click().run()
    assert any("refreshed" in m for m in messages(at, "success"))
    at.button(key="conn_revoke").click().run()
    at.text_input(key="revoke_confirm").input(str(INITECH)).run()
    at.button(key="revoke_submit").click().run()
    assert not at.exception
    assert connections.get_connection(ctx, INITECH, actor=ADMIN).status != "revoked"
    with ctx.session() as s:
        events = repository.list_audit_events(session=s, actor="olga@ops.example.com")
    assert {(e.action, e.outcome) for e in events} >= {("refresh", "success"), ("revoke", "denied")}


def test_admin_revokes(signed_in: Any, ctx: AppContext, seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(signed_in("boss@example.com"), INITECH)
    at.button(key="conn_revoke").click().run()
    at.text_input(key="revoke_confirm").input(str(INITECH)).run()
    at.button(key="revoke_submit").click().run()
    assert connections.get_connection(ctx, INITECH, actor=ADMIN).status == "revoked"
    with ctx.session() as s:
        assert repository.list_audit_events(session=s, actor="boss@example.com", action="revoke")
