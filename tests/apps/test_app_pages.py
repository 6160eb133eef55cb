"""The pages with two apps (issue 27 "done when"): the same account installed in both from the New install
page (the sidebar's switcher picks the app; both consents come back to the one /install callback), two
connections under the switcher, the production app's badge and its typed confirmation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.installs import flow as install
from dashboard.sandbox import SandboxServer
from tests.apps.conftest import HUB
from tests.utils.lifecycle import grant
from tests.utils.pages import APP, TIMEOUT, loopback_app, messages, table

INSTALL, CONNECTIONS = "pages/install.py", "pages/connections.py"


@pytest.fixture
def any_db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dashboard.db'}"  # the pages once; the services run on both databases


@pytest.fixture
def pages(env: dict[str, str]) -> Iterator[None]:
    with loopback_app():
        yield


def open_page(page: str, app: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(page)
    at.query_params.update(query)
    at.run()
    if app is not None:  # the sidebar's switcher, as a user picks the app
        at.selectbox(key="app").set_value(app).run()
    assert not at.exception, at.exception
    return at


def install_from_pages(app: str, server: SandboxServer) -> None:
    at = open_page(INSTALL, app)
    assert at.selectbox(key="app").value == app
    at.text_input(key="install_account").input(str(HUB)).run()
    at.button(key="install_create").click().run()
    link = next(b for b in at.get("link_button") if b.proto.label == "Connect a HubSpot account")
    assert urlsplit(link.proto.url).netloc == urlsplit(server.url).netloc  # this app's HubSpot host
    callback = grant(server.url, link.proto.url, account_id=HUB)
    done = open_page(INSTALL, **install.callback_params(callback))  # a new session: the default app selected
    assert any(m.startswith(f"Installed hub {HUB}") for m in messages(done, "success")), messages(done, "error")


def test_same_account_in_two_apps_from_the_pages(pages: None, sandbox: SandboxServer,
                                                 staging: SandboxServer) -> None:
    install_from_pages("production", sandbox)
    install_from_pages("staging", staging)

    prod = open_page(CONNECTIONS)
    assert prod.selectbox(key="app").value == "production"
    assert any("red-badge" in m.value and "Production app" in m.value for m in prod.sidebar.markdown)
    assert list(table(prod)["hub_id"]) == [HUB]
    stage = open_page(CONNECTIONS, "staging")
    assert not any("Production app" in m.value for m in stage.sidebar.markdown)
    assert list(table(stage)["hub_id"]) == [HUB]
    assert dict(stage.query_params).get("app") in (None, "staging")


def test_revoke_on_the_production_app_asks_for_its_name(pages: None, sandbox: SandboxServer,
                                                        staging: SandboxServer) -> None:
    from tests.utils.pages import select_hubs

    install_from_pages("production", sandbox)
    at = select_hubs(open_page(CONNECTIONS), HUB)
    at.button(key="conn_revoke").click().run()
    at.text_input(key="revoke_confirm").input(str(HUB)).run()
    assert at.button(key="revoke_submit").disabled  # the hub id alone is not enough on production
    at.text_input(key="revoke_confirm_app").input("production").run()
    assert not at.button(key="revoke_submit").disabled


def test_scope_builder_per_app(pages: None, env: dict[str, str], tmp_path: Path, sandbox: SandboxServer,
                               staging: SandboxServer) -> None:
    """Each app's scope builder starts from its own scope set, builds its own authorize URL (its client id
    and host) and keeps its own saved scope sets."""
    from dashboard.context import build_context
    from dashboard.installs import scope_sets
    from dashboard.scopes.catalog import ScopeSet
    from dashboard.settings import load_settings
    from tests.apps.conftest import STAGING
    from tests.utils.lifecycle import ADMIN

    toml = Path(env["DASHBOARD_APPS_FILE"])
    toml.write_text(toml.read_text().replace("production = false",
                                             'production = false\nscopes = ["oauth", "tickets"]'))
    ctx = build_context(load_settings(env, secrets_path=None))
    try:
        scope_sets.save_scope_set(ctx.for_app("staging"), "staging-set",
                                  ScopeSet.from_lists(required=["oauth", "tickets"]), actor=ADMIN)
        assert scope_sets.list_scope_sets(ctx, actor=ADMIN) == {}  # production has none
        assert list(scope_sets.list_scope_sets(ctx.for_app("staging"), actor=ADMIN)) == ["staging-set"]
    finally:
        ctx.close()
    at = open_page("pages/scopes.py", "staging")
    picked = at.multiselect(key="sb_required").value
    assert sorted(picked) == ["oauth", "tickets"], picked
    url = next(c.value for c in at.code if "client_id=" in c.value)
    assert urlsplit(url).netloc == urlsplit(staging.url).netloc and STAGING["client_id"] in url
    assert "staging-set" in at.selectbox(key="sb_saved").options
