"""Sendable links in the pages, and the callback page a signed-out customer sees (AppTest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.connections import service as connections
from dashboard.context import AppContext
from dashboard.installs import flow as install
from dashboard.installs import links as install_links
from dashboard.sandbox import SandboxServer
from tests.ui.test_sign_in import AUTH, ROLES
from tests.utils.lifecycle import ADMIN, grant
from tests.utils.pages import APP, INITECH, TIMEOUT, messages

OpenPage = Callable[..., AppTest]
INSTALL = "pages/install.py"


@pytest.fixture
def signed_out(monkeypatch: pytest.MonkeyPatch, ui_env: None) -> Callable[[dict[str, str]], AppTest]:
    """The app with sign-in configured, opened by a browser that never signed in, at ``/install?...``."""
    for name, value in ROLES.items():
        monkeypatch.setenv(name, value)

    def run(params: dict[str, str]) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": False}
        at.query_params.update(params)
        at.run()
        assert not at.exception, at.exception
        return at

    return run


def test_create_list_and_revoke_a_link_on_the_install_page(open_page: OpenPage, ctx: AppContext) -> None:
    at = open_page(INSTALL)
    at.text_area(key="install_scopes").input("oauth crm.objects.contacts.read").run()
    at.button(key="send_link_create").click().run()
    assert not at.exception
    assert any("works once" in m and "needs no dashboard account" in m for m in messages(at, "success"))
    url = next(c.value for c in at.code if "/connect/" in c.value)
    [link] = install_links.list_links(ctx, actor=ADMIN)
    assert link.status == "open" and link.scopes == "crm.objects.contacts.read oauth"
    at.button(key="send_link_revoke").click().run()
    assert not at.exception
    assert install_links.list_links(ctx, actor=ADMIN)[0].status == "revoked"
    with pytest.raises(Exception, match="withdrawn"):
        install_links.open_link(ctx, token=url.rsplit("/", 1)[1])


def test_a_signed_out_customer_sees_only_the_result(signed_out: Callable[[dict[str, str]], AppTest],
                                                    ctx: AppContext, sandbox: SandboxServer) -> None:
    link = install_links.create_link(ctx, actor=ADMIN, scopes=["oauth", "crm.objects.contacts.read"])
    authorize = install_links.open_link(ctx, token=link.url.rsplit("/", 1)[1])
    params = install.callback_params(grant(sandbox.url, authorize, account_id=INITECH))
    at = signed_out(params)
    assert messages(at, "success") == [
        f"Connected HubSpot account initech.hubspot.com ({INITECH}) to the app. You can close this page."]
    assert [t.value for t in at.title] == ["HubSpot connection"]
    assert len(at.sidebar.children) == 0  # no "Signed in as", no sign-out, no mode
    assert not at.get("arrow_data_frame") and not at.button
    assert dict(at.query_params) == {}
    assert connections.get_connection(ctx, INITECH, actor=ADMIN).status == "healthy"


@pytest.mark.parametrize("params", [{"code": "x", "state": "forged"}, {"state": "forged", "error": "access_denied",
                                                                       "error_description": "[x](http://evil/)"}])
def test_a_signed_out_browser_with_a_bad_state_gets_one_error_line(signed_out: Any, params: dict[str, str]) -> None:
    at = signed_out(params)
    assert [t.value for t in at.title] == ["HubSpot connection"]
    [error] = messages(at, "error")
    assert error.startswith("The connection was not made: this link is not valid")
    assert not at.button and not at.get("arrow_data_frame")
