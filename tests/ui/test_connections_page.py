"""The Connections page against real installs in the sandbox: metrics, filters, details and actions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.connections import service as connections
from dashboard.context import AppContext
from dashboard.installs import flow as install
from dashboard.installs import links as install_links
from dashboard.installs.flow import InstallResult
from dashboard.refresh import service as refresh
from dashboard.sandbox import SandboxServer
from dashboard.ui.connection_details import REVOKE_TARGET_KEY
from dashboard.ui.connections_table import TABLE_KEY
from dashboard.ui.text import plain
from dashboard.ui.uninstall_action import TARGET_KEY as UNINSTALL_TARGET_KEY
from tests.utils.lifecycle import ADMIN, grant, sandbox_get, sandbox_post, sandbox_tokens
from tests.utils.pages import (
    ACME,
    GATED_OPTIONAL,
    GLOBEX,
    INITECH,
    frame_with,
    messages,
    page_text,
    select_hubs,
    table,
)

OpenPage = Callable[..., AppTest]


def metrics(at: AppTest) -> dict[str, int]:
    return {m.label: int(m.value) for m in at.metric}


def test_empty_dashboard_points_to_the_install_page(open_page: OpenPage) -> None:
    at = open_page()
    assert at.title[0].value == "Connections"
    assert metrics(at)["Connected"] == 0
    assert any("New install" in m for m in messages(at, "info"))
    assert any("sandbox" in w.lower() for w in messages(at, "warning"))  # the sandbox banner


def test_lists_installed_portals_with_metrics_and_live_countdown(
        open_page: OpenPage, seeded: dict[int, InstallResult]) -> None:
    at = open_page()
    assert metrics(at) == {"Connected": 3, "Healthy": 3, "Expiring": 0, "Expired": 0, "Failing": 0,
                           "Needs re-auth": 0, "Revoked": 0}
    shown = table(at).set_index("hub_id")
    assert sorted(shown.index) == [ACME, GLOBEX, INITECH]
    assert shown.loc[GLOBEX, "hub_domain"] == "globex.hubspot.com"
    assert shown.loc[ACME, "status_label"] == "🟢 Healthy"
    assert shown.loc[ACME, "installed_by"] == "admin@acme-corp.hubspot.com"
    assert list(shown.loc[ACME, "missing_optional_scopes"]) == [GATED_OPTIONAL]  # acme's tier dropped it
    assert len(shown.loc[INITECH, "missing_optional_scopes"]) == 0
    assert "crm.objects.companies.read" in list(shown.loc[GLOBEX, "granted_scopes"])
    assert all(text.startswith(("29m", "30m")) for text in shown["expires_in"])  # sandbox tokens live 30 min
    assert any(d.key == "conn_export" for d in at.get("download_button"))


@pytest.mark.parametrize(("widget", "value", "expected"), [
    ("conn_search", "globex", [GLOBEX]),
    ("conn_search", str(INITECH), [INITECH]),
    ("conn_search", "admin@acme", [ACME]),
])
def test_search_by_domain_hub_id_and_user(open_page: OpenPage, seeded: dict[int, InstallResult], widget: str,
                                          value: str, expected: list[int]) -> None:
    at = open_page()
    at.text_input(key=widget).input(value).run()
    assert list(table(at)["hub_id"]) == expected
    assert metrics(at)["Connected"] == 3  # metrics always cover every portal


def test_status_and_scope_filters(open_page: OpenPage, ctx: AppContext,
                                  seeded: dict[int, InstallResult]) -> None:
    connections.revoke(ctx, ACME, actor=ADMIN)
    at = open_page()
    at.multiselect(key="conn_statuses").select("revoked").run()
    assert list(table(at)["hub_id"]) == [ACME]
    at.multiselect(key="conn_statuses").unselect("revoked").select("healthy").run()
    assert sorted(table(at)["hub_id"]) == [GLOBEX, INITECH]
    at.multiselect(key="conn_statuses").unselect("healthy").run()
    at.selectbox(key="conn_scope").select("crm.objects.companies.read").run()
    assert list(table(at)["hub_id"]) == [GLOBEX]
    at.selectbox(key="conn_scope").select(GATED_OPTIONAL).run()
    assert list(table(at)["hub_id"]) == [INITECH]
    at.text_input(key="conn_search").input("nothing-like-this").run()
    assert not at.exception
    assert any("No portals match" in m for m in messages(at, "info"))


def test_sorting(open_page: OpenPage, ctx: AppContext, seeded: dict[int, InstallResult]) -> None:
    connections.revoke(ctx, GLOBEX, actor=ADMIN)
    at = open_page()
    at.selectbox(key="conn_sort").select("Hub id").run()
    assert list(table(at)["hub_id"]) == [ACME, GLOBEX, INITECH]
    at.selectbox(key="conn_sort").select("Domain").run()
    assert list(table(at)["hub_domain"]) == sorted(table(at)["hub_domain"])
    at.selectbox(key="conn_sort").select("Status (problems first)").run()
    assert list(table(at)["hub_id"])[-1] == GLOBEX  # revoked last


def test_selection_opens_details_and_refresh_now_refreshes(
        open_page: OpenPage, seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(open_page(), GLOBEX)
    assert plain(at.header[0].value) == "Hub 1000002 · globex.hubspot.com"
    before = table(at).set_index("hub_id").loc[GLOBEX]
    assert before["last_refresh_at"] == ""  # never refreshed: blank
    at.button(key="conn_refresh").click().run()
    assert not at.exception
    assert any(m.startswith("Hub 1000002: refreshed") for m in messages(at, "success"))
    after = table(at).set_index("hub_id").loc[GLOBEX]
    assert after["last_refresh_result"] == "Refreshed" and after["last_refresh_at"]
    assert at.header[0].value.startswith("Hub 1000002")  # still the same portal after re-sorting
    history = frame_with(at, "action", "outcome", "detail")
    assert {"install", "refresh"} <= set(history["action"])


def test_details_scopes_metadata_and_test_connection_never_show_a_token(
        open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer, seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(open_page(), ACME)
    scopes = frame_with(at, "scope", "requested", "granted").set_index("scope")
    assert scopes.loc[GATED_OPTIONAL, "requested"] == "optional" and not scopes.loc[GATED_OPTIONAL, "granted"]
    assert scopes.loc["oauth", "granted"]
    reasons = frame_with(at, "scope", "why not granted", "re-consent can help").set_index("scope")
    assert "Content Hub Enterprise" in reasons.loc[GATED_OPTIONAL, "why not granted"]
    assert not reasons.loc[GATED_OPTIONAL, "re-consent can help"]  # a tier problem: re-consent cannot grant it
    assert not [b for b in at.button if b.key == "conn_reconsent"]

    at.button(key="conn_meta").click().run()
    meta = frame_with(at, "field", "value").set_index("field")["value"]
    assert meta["hub id"] == str(ACME) and meta["active"] == "True"
    assert meta["token fingerprint"] == connections.get_connection(ctx, ACME, actor=ADMIN).token_fingerprint
    at.button(key="conn_test").click().run()
    healthy = [m for m in messages(at, "success") if m.startswith("Connection healthy")]
    domain = connections.get_connection(ctx, ACME, actor=ADMIN).hub_domain
    assert healthy and domain and f"(portal {domain})" in healthy[0]  # the portal's own domain, not app.hubspot.com

    text = page_text(at)
    tokens = [t["token"] for t in sandbox_tokens(sandbox.url)]
    assert tokens
    assert not [t for t in tokens if t in text]


def test_revoke_needs_the_hub_id_typed_in_the_dialog(
        open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer, seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(open_page(), INITECH)
    at.button(key="conn_revoke").click().run()
    assert at.session_state[REVOKE_TARGET_KEY] == INITECH
    assert at.button(key="revoke_submit").disabled
    at.text_input(key="revoke_confirm").input("1000001").run()  # another portal's id
    assert at.button(key="revoke_submit").disabled
    at.text_input(key="revoke_confirm").input(str(INITECH)).run()
    at.button(key="revoke_submit").click().run()
    assert not at.exception
    assert any("1000003 revoked" in m for m in messages(at, "success"))
    assert table(at).set_index("hub_id").loc[INITECH, "status_label"] == "⚪ Revoked"
    assert metrics(at)["Revoked"] == 1
    assert connections.get_connection(ctx, INITECH, actor=ADMIN).status == "revoked"
    # The selection is gone with the portal's tokens: no details, nothing for "Refresh selected" (issue 28).
    assert at.button(key="conn_bulk_refresh").label == "Refresh selected (0)"
    assert not at.header and "hub" not in at.query_params
    assert table(at).set_index("hub_id").loc[INITECH, "expires_in"] == "reinstall to reconnect"
    tokens = sandbox_get(sandbox, f"/_sandbox/tokens?hub_id={INITECH}")["tokens"]
    assert not [t for t in tokens if t["active"] and t["kind"] == "refresh"]


def test_cancel_closes_the_revoke_dialog(open_page: OpenPage, ctx: AppContext,
                                          seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(open_page(), ACME)
    at.button(key="conn_revoke").click().run()
    at.button(key="revoke_cancel").click().run()
    assert REVOKE_TARGET_KEY not in at.session_state
    assert connections.get_connection(ctx, ACME, actor=ADMIN).status == "healthy"


def test_bulk_refresh_of_selected_rows(open_page: OpenPage, seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(open_page(), ACME, INITECH)
    assert at.button(key="conn_bulk_refresh").label == "Refresh selected (2)"
    at.selectbox(key="conn_details_for").select(INITECH).run()
    assert at.header[0].value.startswith("Hub 1000003")
    at.button(key="conn_bulk_refresh").click().run()
    assert any(m == "Refreshed 2 of 2 selected portals." for m in messages(at, "success"))
    refreshed = table(at).set_index("hub_id")["last_refresh_result"]
    assert refreshed[ACME] == refreshed[INITECH] == "Refreshed"
    assert refreshed[GLOBEX] == ""  # never refreshed: blank, not "None"


def test_refresh_failure_is_a_clear_message(open_page: OpenPage, sandbox: SandboxServer,
                                            seeded: dict[int, InstallResult]) -> None:
    sandbox_post(sandbox, "/_sandbox/uninstall", {"hub_id": GLOBEX})  # the customer uninstalled the app
    at = select_hubs(open_page(), GLOBEX)
    at.button(key="conn_refresh").click().run()
    assert not at.exception
    assert any(m.startswith("Hub 1000002: refresh failed (needs_reauth)") for m in messages(at, "error"))
    assert metrics(at)["Needs re-auth"] == 1
    assert at.button(key="conn_reconsent")


def test_reconsent_link_reinstalls_the_portal(open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer,
                                              seeded: dict[int, InstallResult]) -> None:
    sandbox_post(sandbox, "/_sandbox/uninstall", {"hub_id": ACME})
    refresh.refresh_portal(ctx, ACME, force=True, actor=ADMIN)  # invalid_grant: needs re-auth
    at = select_hubs(open_page(), ACME)
    at.button(key="conn_reconsent").click().run()
    link = next(b for b in at.get("link_button") if b.proto.label.startswith("Open the re-consent page"))
    link_url = link.proto.url
    assert "/connect/" in link_url and link_url in [c.value for c in at.code]
    # A sendable link: opening it (the customer, days later) makes a fresh state pinned to the account.
    url = install_links.open_link(ctx, token=link_url.rsplit("/", 1)[1])
    assert "/oauth/1000001/authorize" in url and f"optional_scope={GATED_OPTIONAL}" in url and "state=" in url
    # The admin follows the link and consents; HubSpot sends the browser back to /install.
    result = install.finish_install(ctx, actor=ADMIN, params=install.callback_params(grant(sandbox.url, url)))
    assert result.hub_id == ACME and result.reinstall
    assert connections.get_connection(ctx, ACME, actor=ADMIN).status == "healthy"


def test_no_reconsent_for_a_complete_healthy_portal(open_page: OpenPage, seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(open_page(), GLOBEX)
    assert not [b for b in at.button if b.key == "conn_reconsent"]


def primary_buttons(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.proto.type == "primary" and str(b.key).startswith("conn_")]


def test_the_primary_button_is_what_the_status_asks_for(
        open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer, seeded: dict[int, InstallResult]) -> None:
    """Healthy: test it. Needs re-auth: send the re-consent link. Revoke is never the coloured button."""
    at = select_hubs(open_page(), GLOBEX)
    assert primary_buttons(at) == ["conn_test"]
    sandbox_post(sandbox, "/_sandbox/uninstall", {"hub_id": GLOBEX})
    refresh.refresh_portal(ctx, GLOBEX, force=True, actor=ADMIN)  # invalid_grant: needs re-auth
    at = select_hubs(open_page(), GLOBEX)
    assert primary_buttons(at) == ["conn_reconsent"]
    assert at.button(key="conn_reconsent").label == "Send re-consent link"
    assert at.button(key="conn_revoke").proto.type == "secondary"


def test_a_search_with_one_match_opens_its_details_and_close_keeps_them_closed(
        open_page: OpenPage, seeded: dict[int, InstallResult]) -> None:
    at = open_page()
    at.text_input(key="conn_search").input("hubspot.com").run()  # three matches: only the table
    assert not at.header
    at.text_input(key="conn_search").input("initech").run()  # a domain fragment, one match
    assert plain(at.header[0].value).startswith(f"Hub {INITECH}")
    assert at.query_params["hub"] == str(INITECH)
    at.button(key="conn_details_close").click().run()
    assert not at.header and at.button(key="conn_bulk_refresh").label == "Refresh selected (0)"


def test_status_codes_in_the_url_filter_like_labels(open_page: OpenPage, ctx: AppContext,
                                                    seeded: dict[int, InstallResult]) -> None:
    connections.revoke(ctx, ACME, actor=ADMIN)
    for value in ("revoked", "Revoked"):
        at = open_page(conn_statuses=value)
        assert at.multiselect(key="conn_statuses").value == ["revoked"], value
        assert list(table(at)["hub_id"]) == [ACME]


def test_needs_attention_counts_filter_the_table(open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer,
                                                 seeded: dict[int, InstallResult]) -> None:
    sandbox_post(sandbox, "/_sandbox/uninstall", {"hub_id": INITECH})
    refresh.refresh_portal(ctx, INITECH, force=True, actor=ADMIN)
    at = open_page()
    count = at.button(key="conn_attention_needs_reauth")
    assert count.label == "1 needs re-auth"
    count.click().run()
    assert at.multiselect(key="conn_statuses").value == ["needs_reauth"]
    assert list(table(at)["hub_id"]) == [INITECH]


@pytest.mark.parametrize(("button", "target_key", "submit"), [
    ("conn_revoke", REVOKE_TARGET_KEY, "revoke_submit"),
    ("conn_uninstall", UNINSTALL_TARGET_KEY, "uninstall_submit"),
])
def test_a_dialog_opens_when_the_clicks_run_is_rerun_for_the_table(
        open_page: OpenPage, seeded: dict[int, InstallResult], button: str, target_key: str, submit: str) -> None:
    """The flaky browser journeys, at their root: in the browser the table now and then reports no selected
    row in the very run a dialog's button was clicked in (its selection state lags the one the page restored
    from ``?hub=``). The table's fragment then reruns the page, and a button's return value does not survive
    ``st.rerun()``: the click was lost. The buttons open their dialog from a callback, which runs first."""
    at = select_hubs(open_page(), INITECH)
    at.session_state[TABLE_KEY] = {"selection": {"rows": [], "columns": []}}  # as the browser sent it
    at.button(key=button).click().run()
    assert not at.exception
    assert at.session_state[target_key] == INITECH
    assert at.header[0].value.startswith(f"Hub {INITECH}")  # the details are back (from ?hub=)
    assert at.button(key=submit).disabled  # the dialog is open, waiting for the typed hub id
