"""Issue 13 on the pages: a pending install finished from the page, and "Uninstall from HubSpot account"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.connections import service as connections
from dashboard.context import AppContext, build_context
from dashboard.errors import InstallPendingError
from dashboard.installs import flow as install
from dashboard.installs.flow import InstallResult
from dashboard.sandbox import SandboxServer
from dashboard.settings import Settings
from dashboard.ui.uninstall_action import TARGET_KEY
from tests.utils.lifecycle import ADMIN, FAST_RETRY, grant, sandbox_get, sandbox_post, sandbox_tokens
from tests.utils.pages import ACME, GLOBEX, INITECH, messages, page_text, select_hubs, table

OpenPage = Callable[..., AppTest]


def _pending(settings: Settings, sandbox: SandboxServer, account_id: int) -> int:
    """An install on the v1 API (its token body names no hub) whose metadata lookup fails three times (one
    lookup's attempts): kept pending, in the database the pages read."""
    sandbox_post(sandbox, "/_sandbox/faults", {"target": "metadata", "error_rate": 1, "error_status": 503,
                                               "count": 3})
    v1 = build_context(settings.model_copy(update={"hubspot_oauth_api": "v1"}), sandbox_url=sandbox.url,
                       retry=FAST_RETRY)
    try:
        start = install.start_install(v1, actor=ADMIN, scopes=["oauth"], account_id=account_id)
        with pytest.raises(InstallPendingError) as caught:
            install.finish_install(v1, actor=ADMIN, params=install.callback_params(grant(sandbox.url, start.url)))
    finally:
        v1.close()
    return caught.value.pending_id


@pytest.mark.parametrize("page", [None, "pages/install.py"], ids=["connections", "new-install"])
def test_a_pending_install_finishes_from_the_page(open_page: OpenPage, ctx: AppContext, settings: Settings,
                                                  sandbox: SandboxServer, page: str | None) -> None:
    pending_id = _pending(settings, sandbox, GLOBEX)
    at = open_page(page)
    assert any("1 install(s) were granted by HubSpot but not finished" in m for m in messages(at, "warning"))
    at.button(key=f"pending_finish_{pending_id}").click().run()
    assert not at.exception
    assert any("hub 1000002 (globex.hubspot.com) is connected" in m for m in messages(at, "success"))
    assert not any("not finished" in m for m in messages(at, "warning"))
    assert connections.get_connection(ctx, GLOBEX, actor=ADMIN).granted_scopes == ("oauth",)
    text = page_text(at)
    assert not [t["token"] for t in sandbox_tokens(sandbox.url) if t["token"] in text]


def test_uninstall_from_account_needs_the_hub_id_typed(open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer,
                                                       seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(open_page(), INITECH)
    at.button(key="conn_uninstall").click().run()
    assert at.session_state[TARGET_KEY] == INITECH
    assert at.button(key="uninstall_submit").disabled
    at.text_input(key="uninstall_confirm").input(str(ACME)).run()  # another portal's id
    assert at.button(key="uninstall_submit").disabled
    at.text_input(key="uninstall_confirm").input(str(INITECH)).run()
    at.button(key="uninstall_submit").click().run()
    assert not at.exception
    assert any("1000003: the app was uninstalled" in m for m in messages(at, "success"))
    assert sandbox_get(sandbox, "/_sandbox/stats")["app_uninstalls"] == 1
    assert not [t for t in sandbox_get(sandbox, f"/_sandbox/tokens?hub_id={INITECH}")["tokens"] if t["active"]]
    assert INITECH not in list(table(at)["hub_id"])  # filtered out by default
    at.multiselect(key="conn_statuses").select("uninstalled").run()
    assert list(table(at)["hub_id"]) == [INITECH]
    assert table(at).set_index("hub_id").loc[INITECH, "status_label"].endswith("Uninstalled")
    assert connections.get_connection(ctx, INITECH, actor=ADMIN).status == "uninstalled"
