"""Sign-in end to end, offline: ``st.login`` in the real dashboard against the test OpenID provider
(devtools/oidc).

The dashboard runs from a temporary directory holding ``.streamlit/secrets.toml`` (an ``[auth]`` section
pointing at the provider's discovery URL) and the shipped ``.streamlit/config.toml``; roles come from
DASHBOARD_ADMINS / DASHBOARD_VIEWERS. The browser uses ``http://localhost:<port>`` throughout, the host of the
registered redirect URI, so Streamlit's auth cookies and the OAuth state cookie are sent back.

Journey: not signed in → "Sign in" → the provider's page → ana@example.com (viewer) → the dashboard, signed in,
no "no sign-in configured" banner → Sign out → sign in as stranger@elsewhere.org → "no access", naming the admin.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from devtools.oidc import OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
from tests.e2e.conftest import REPO, start_dashboard
from tests.utils.browser import keyed, wait_for_app

pytestmark = pytest.mark.e2e

ROLES = {"DASHBOARD_ADMINS": "boss@example.com", "DASHBOARD_VIEWERS": "@example.com"}


@pytest.fixture(scope="module")
def signin_url(tmp_path_factory: pytest.TempPathFactory, signin_port: int, sandbox_url: str,
               oidc_url: str) -> Iterator[str]:
    """The dashboard with sign-in configured against the test OpenID provider; yields its base URL."""
    work = tmp_path_factory.mktemp("e2e-signin")
    settings = work / ".streamlit"
    settings.mkdir()
    shutil.copyfile(REPO / ".streamlit" / "config.toml", settings / "config.toml")  # server.address 127.0.0.1
    (settings / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{signin_port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        f'client_id = "{OIDC_CLIENT_ID}"\n'
        f'client_secret = "{OIDC_CLIENT_SECRET}"\n'
        f'server_metadata_url = "{oidc_url}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    server = start_dashboard(work=work, port=signin_port, sandbox_url=sandbox_url, cwd=work,
                             env={"PYTHONPATH": str(REPO), **ROLES})
    try:
        yield f"http://localhost:{signin_port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser_context_args(signin_url: str) -> dict[str, Any]:
    """This module's pages open the sign-in dashboard (not the session's sign-in-less one)."""
    return {"base_url": signin_url, "viewport": {"width": 1280, "height": 800}}


def sign_in_as(page: Page, email: str, app_url: str, *, press_enter: bool = False,
               screenshot: Callable[..., Path] | None = None) -> None:
    """From the "Please sign in." screen: the provider's page, type ``email`` and click Sign in (or press Enter,
    which must submit the typed email, not the first listed user), back on the dashboard."""
    expect(page.get_by_text("Please sign in.")).to_be_visible()
    keyed(page, "auth_login").get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/oidc/authorize\?"))
    expect(page.locator(f"#users button.user[data-email='{email}']")).to_be_visible()
    page.fill("input#email", email)
    if screenshot is not None:
        screenshot(page, "sign-in-provider", streamlit=False)
    if press_enter:
        page.press("input#email", "Enter")
    else:
        page.click("button#signin")
    page.wait_for_url(re.compile(re.escape(app_url) + r"/?$"))
    wait_for_app(page)


def test_sign_in_as_viewer_then_as_a_stranger(page: Page, signin_url: str,
                                               screenshot: Callable[..., Path]) -> None:
    page.goto(signin_url)
    wait_for_app(page)
    expect(page.get_by_text("No sign-in configured")).to_have_count(0)

    sign_in_as(page, "ana@example.com", signin_url, screenshot=screenshot)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("Signed in as ana@example.com (viewer)")
    expect(page.get_by_role("heading", name="Connections", level=1)).to_be_visible()
    expect(page.get_by_text("No sign-in configured")).to_have_count(0)
    screenshot(page, "signed-in-viewer")

    keyed(page, "auth_logout").get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Please sign in.")).to_be_visible()
    wait_for_app(page)
    expect(page.get_by_text("Signed in as")).to_have_count(0)

    sign_in_as(page, "stranger@elsewhere.org", signin_url, press_enter=True)
    denied = page.get_by_test_id("stAlert").filter(has_text="no role on this dashboard")
    expect(denied).to_contain_text("You are signed in as stranger@elsewhere.org")
    expect(denied).to_contain_text("boss@example.com")
    expect(page.get_by_role("heading", name="Connections", level=1)).to_have_count(0)
    screenshot(page, "no-access")
