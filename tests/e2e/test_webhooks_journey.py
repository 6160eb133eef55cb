"""The issue's "done when", in Chromium against `streamlit run streamlit_app.py`: a new user adds a webhook endpoint
on the Settings page (the secret shown once), installs a portal from the sandbox, and their receiver verifies the
``connection.created`` the dashboard's embedded worker delivered (no other process started)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from dashboard.context import build_context
from dashboard.settings import load_settings
from tests.e2e.conftest import free_port, start_dashboard
from tests.utils.browser import keyed, open_page, wait_for_app
from tests.utils.lifecycle import add_accounts, install_portal
from tests.utils.sandbox_process import start_sandbox
from tests.utils.webhook_receiver import Receiver, webhook_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port, app_port = free_port(), free_port()
    server, url = start_sandbox(port, f"http://localhost:{app_port}/install", tmp_path / "sandbox.log")
    try:
        yield url, app_port
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def test_add_endpoint_install_and_receive_a_verified_connection_created(
        own_sandbox: tuple[str, int], tmp_path: Path, browser: Browser, receiver: Receiver) -> None:
    sandbox_url, port = own_sandbox
    server = start_dashboard(work=tmp_path, port=port, sandbox_url=sandbox_url,
                             env={"DASHBOARD_WEBHOOK_ALLOW_PRIVATE": "true"})
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(f"http://localhost:{port}/")
        wait_for_app(page)
        open_page(page, "Settings")
        keyed(page, "webhook_url").locator("input").fill(receiver.url)
        keyed(page, "webhook_description").locator("input").fill("my backend")
        page.get_by_role("button", name="Add endpoint").click()
        wait_for_app(page)
        code = page.get_by_test_id("stCode").filter(has_text="whsec_")
        expect(code).to_be_visible()
        secret = code.inner_text().strip()
        assert secret.startswith("whsec_")

        settings = load_settings({}, secrets_path=None,
                                 dashboard_database_url=f"sqlite:///{tmp_path / 'dashboard.db'}",
                                 dashboard_data_dir=tmp_path / "data",
                                 hubspot_redirect_uri=f"http://localhost:{port}/install")
        ctx = build_context(settings, sandbox_url=sandbox_url)
        try:
            [account] = add_accounts(sandbox_url, 1)
            hub = install_portal(ctx, sandbox_url, account_id=account).hub_id
        finally:
            ctx.close()
        committed = time.monotonic()
        (got,) = receiver.wait_for(1, timeout=30)
        [payload] = receiver.verified(secret)
        assert payload["type"] == "connection.created" and payload["data"]["hub_id"] == hub
        assert got.at - committed < 10  # the embedded worker's 1 s poll (2 s bound: tests/test_webhook_delivery.py)
        page.reload()
        wait_for_app(page)
        expect(keyed(page, "webhook_deliveries_table")).to_be_visible()
        assert secret not in page.content()
    finally:
        page.close()
        server.stop()
