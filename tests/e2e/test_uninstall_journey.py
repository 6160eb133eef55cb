"""Uninstalling the app from a customer's HubSpot account, in Chromium against the sandbox HubSpot.

New install (link, the sandbox's consent page, back) → Connections (search for the hub, select it) →
"Uninstall from HubSpot account…" → the dialog's button stays disabled until the hub id is typed →
the sandbox counts one App uninstalls call, the account's tokens are dead there, and the portal leaves the
default listing but shows as Uninstalled under the status filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.utils.browser import (
    add_options,
    grid_cell,
    keyed,
    open_page,
    type_and_commit,
    wait_for_app,
)

pytestmark = pytest.mark.e2e

HUB_ID = 1000003  # initech: the other journeys use globex


def test_uninstall_from_account_journey(page: Page, app_url: str, sandbox_url: str,
                                        screenshot: Callable[..., Path]) -> None:
    before = httpx.get(f"{sandbox_url}/_sandbox/stats", timeout=10).json()["app_uninstalls"]
    page.goto(app_url)
    wait_for_app(page)
    open_page(page, "New install")
    type_and_commit(page, "install_account", str(HUB_ID))
    keyed(page, "install_create").get_by_role("button").click()
    expect(page.get_by_text("Install link created.")).to_be_visible()
    connect = keyed(page, "install_connect").get_by_role("link", name="Connect a HubSpot account")
    with page.expect_popup() as popup_info:
        connect.click()
    consent = popup_info.value
    consent.click("button#grant")
    consent.wait_for_url(re.compile(r"/install"))
    wait_for_app(consent)
    expect(consent.get_by_text(re.compile(rf"Installed hub {HUB_ID} \(initech.hubspot.com\)"))).to_be_visible()
    consent.close()

    open_page(page, "Connections")
    type_and_commit(page, "conn_search", str(HUB_ID))
    table = keyed(page, "conn_table")
    expect(grid_cell(table, 1, 0)).to_have_text(str(HUB_ID))
    table.get_by_test_id("stDataFrameResizable").click(position={"x": 18, "y": 54})
    expect(page.get_by_role("heading", name=f"Hub {HUB_ID} · initech.hubspot.com")).to_be_visible()
    wait_for_app(page)

    dialog = page.get_by_role("dialog")
    keyed(page, "conn_uninstall").get_by_role("button").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Uninstall from HubSpot account")
    expect(dialog).to_contain_text("emails the account's super admins")
    submit = keyed(page, "uninstall_submit").get_by_role("button")
    expect(submit).to_be_disabled()
    type_and_commit(page, "uninstall_confirm", str(HUB_ID))
    expect(keyed(page, "uninstall_confirm").locator("input")).to_have_value(str(HUB_ID))
    expect(submit).to_be_enabled()
    screenshot(page, "uninstall-dialog")
    submit.click()
    expect(page.get_by_text(f"Hub {HUB_ID}: the app was uninstalled from the HubSpot account")).to_be_visible()
    expect(dialog).to_be_hidden()
    wait_for_app(page)
    expect(page.get_by_text("No portals match.")).to_be_visible()  # filtered out of the default listing

    stats = httpx.get(f"{sandbox_url}/_sandbox/stats", timeout=10).json()
    assert stats["app_uninstalls"] == before + 1
    tokens = httpx.get(f"{sandbox_url}/_sandbox/tokens?hub_id={HUB_ID}", timeout=10).json()["tokens"]
    assert tokens and not [t for t in tokens if t["active"]]

    add_options(page, "conn_statuses", "Uninstalled")
    expect(grid_cell(table, 1, 0)).to_have_text(str(HUB_ID))
    expect(grid_cell(table, 3, 0)).to_contain_text("Uninstalled")
    screenshot(page, "connections-uninstalled")
