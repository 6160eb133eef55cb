"""One user journey through the real dashboard in Chromium, against the sandbox HubSpot.

Scope builder (build and save a set) → New install (pick the set, create the link, connect) → the sandbox's
consent page (choose an account, grant) → back on /install with the hub id → Connections (the live
"Expires in" countdown goes down; Refresh now; Revoke through the dialog) → Activity → Settings.
A full-page screenshot of every page visited lands in artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from dashboard.sandbox import SANDBOX_CLIENT_SECRET
from tests.utils.browser import choose, grid_cell, keyed, open_page, type_and_commit, wait_for_app

pytestmark = pytest.mark.e2e

HUB_ID = 1000002  # globex, Marketing Hub Professional: it can grant the optional "automation" scope
SET_NAME = "CRM contacts + automation"


def seconds_left(text: str) -> int:
    """``29m 58s`` → 1798 (the table's format: ``1h 02m``, ``4m 05s``, ``42s``)."""
    match = re.fullmatch(r"(?:(\d+)h )?(?:(\d+)m)? ?(?:(\d+)s)?", text.strip())
    assert match and text.strip(), f"not a countdown: {text!r}"
    hours, minutes, secs = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + secs


def test_install_refresh_revoke_journey(page: Page, app_url: str, sandbox_url: str,
                                       screenshot: Callable[..., Path]) -> None:
    page.goto(app_url)
    wait_for_app(page)
    expect(page.get_by_text("No portals connected yet")).to_be_visible()

    # Scope builder: oauth (preselected) + crm.objects.contacts.read required, automation optional; save.
    open_page(page, "Scope builder")
    type_and_commit(page, "sb_add_required", "crm.objects.contacts.read")  # Enter adds exactly this scope
    type_and_commit(page, "sb_add_optional", "automation")
    type_and_commit(page, "sb_name", SET_NAME)
    keyed(page, "sb_save").get_by_role("button").click()
    expect(page.get_by_text(f"Saved scope set {SET_NAME}.")).to_be_visible()
    expect(page.get_by_test_id("stCode").first).to_contain_text("optional_scope=automation")
    screenshot(page, "scope-builder", docs=True)

    # New install: the saved set fills the scope fields; create the link and follow it.
    open_page(page, "New install")
    choose(page, "install_set", SET_NAME)
    expect(keyed(page, "install_scopes").locator("textarea")).to_have_value("crm.objects.contacts.read oauth")
    expect(keyed(page, "install_optional").locator("textarea")).to_have_value("automation")
    keyed(page, "install_create").get_by_role("button").click()
    expect(page.get_by_text("Install link created.")).to_be_visible()
    screenshot(page, "install-link")
    connect = keyed(page, "install_connect").get_by_role("link", name="Connect a HubSpot account")
    with page.expect_popup() as popup_info:  # st.link_button opens a new tab
        connect.click()
    consent = popup_info.value

    # The sandbox's consent page: choose the account and grant.
    expect(consent.locator("#app-name")).to_be_visible()
    expect(consent.locator("#scopes li[data-scope='crm.objects.contacts.read']")).to_be_visible()
    consent.select_option("select#account", str(HUB_ID))
    screenshot(consent, "consent", streamlit=False)
    consent.click("button#grant")

    # Back on the dashboard's /install (a new Streamlit session): the callback completed.
    consent.wait_for_url(re.compile(r"/install"))
    wait_for_app(consent)
    expect(consent.get_by_text(f"Installed hub {HUB_ID} (globex.hubspot.com) with 3 granted scopes.")).to_be_visible()
    granted = consent.get_by_test_id("stMarkdown").filter(has_text="Granted scopes:").locator("code")
    expect(granted).to_have_text(["automation", "crm.objects.contacts.read", "oauth"])
    expect(consent).to_have_url(f"{app_url}/install")  # the code and state are cleared from the address bar
    screenshot(consent, "install", docs=True)
    consent.close()

    # Connections: the portal is listed; its "Expires in" countdown (a fragment reloading every 10 s) goes down.
    # Columns: 0 row markers, 1 hub id, 2 domain, 3 status, 4 expires in, 5 result, 6 last refresh.
    open_page(page, "Connections")
    table = keyed(page, "conn_table")
    expect(grid_cell(table, 1, 0)).to_have_text(str(HUB_ID))
    expect(grid_cell(table, 3, 0)).to_have_text("🟢 Healthy")
    countdown = grid_cell(table, 4, 0)
    first = seconds_left(countdown.text_content() or "")
    page.wait_for_timeout(11_000)
    second = seconds_left(countdown.text_content() or "")
    assert first - 25 <= second < first <= 1800, f"the countdown did not go down: {first} s, then {second} s"
    screenshot(page, "connections-one-portal")

    # Select the row (its marker cell, left of the first data row) to open the details pane.
    table.get_by_test_id("stDataFrameResizable").click(position={"x": 18, "y": 54})
    expect(page.get_by_role("heading", name=f"Hub {HUB_ID} · globex.hubspot.com")).to_be_in_viewport()
    wait_for_app(page)
    keyed(page, "conn_refresh").get_by_role("button").click()
    expect(page.get_by_text(re.compile(rf"Hub {HUB_ID}: refreshed; the new access token expires"))).to_be_visible()
    expect(grid_cell(table, 6, 0)).to_have_text("Refreshed")
    screenshot(page, "connection-details")

    # Revoke through the dialog: the button stays disabled until the hub id is typed.
    dialog = page.get_by_role("dialog")
    keyed(page, "conn_revoke").get_by_role("button").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Revoke connection")
    submit = keyed(page, "revoke_submit").get_by_role("button")
    expect(submit).to_be_disabled()
    type_and_commit(page, "revoke_confirm", str(HUB_ID))
    expect(keyed(page, "revoke_confirm").locator("input")).to_have_value(str(HUB_ID))
    expect(submit).to_be_enabled()
    screenshot(page, "revoke-dialog")
    submit.click()
    expect(page.get_by_text(f"Hub {HUB_ID} revoked")).to_be_visible()
    expect(dialog).to_be_hidden()
    expect(grid_cell(table, 3, 0)).to_have_text("⚪ Revoked")
    wait_for_app(page)
    revoked = page.get_by_test_id("stMetric").filter(has=page.get_by_text("Revoked", exact=True))
    expect(revoked.get_by_test_id("stMetricValue")).to_have_text("1")
    # The revoked portal is no longer selected: no details, nothing for "Refresh selected", no "Refreshed".
    expect(keyed(page, "conn_refresh")).to_have_count(0)
    expect(keyed(page, "conn_bulk_refresh").get_by_role("button")).to_have_text("Refresh selected (0)")
    expect(grid_cell(table, 6, 0)).not_to_have_text("Refreshed")
    screenshot(page, "connections-revoked")

    # Activity: the audit log holds the journey; Settings: sandbox mode and the redirect URI.
    open_page(page, "Activity")
    expect(page.get_by_role("heading", name=re.compile(r"Audit log · \d+ events"))).to_be_visible()
    audit = keyed(page, "act_table")  # newest first; columns: 0 at, 1 domain, 2 action, 3 outcome, 4 detail
    audit.scroll_into_view_if_needed()  # the grid mirrors only the cells it draws
    expect(grid_cell(audit, 1, 0)).to_have_text("globex.hubspot.com")
    expect(grid_cell(audit, 2, 0)).to_have_text("revoke")
    expect(grid_cell(audit, 3, 0)).to_have_text("success")
    screenshot(page, "activity", docs=True)
    open_page(page, "Settings")
    expect(page.get_by_text("Sandbox mode is on")).to_be_visible()
    screenshot(page, "settings", docs=True)

    # Leak scan of the browser's HTML: no token, client secret or key on any page after the journey.
    html = []
    for name in ("Connections", "New install", "Scope builder", "Activity", "Settings"):
        open_page(page, name)
        html.append(page.content())
    tokens = [t["token"] for t in httpx.get(f"{sandbox_url}/_sandbox/tokens", timeout=10).json()["tokens"]]
    assert tokens
    leaked = [t[:6] for t in [*tokens, SANDBOX_CLIENT_SECRET] if any(t in h for h in html)]
    assert not leaked, f"secrets in the page HTML: {leaked}"
