"""Sendable links end to end, with sign-in configured: the customer's HubSpot admin never signs in.

A dashboard with an ``[auth]`` section (the sandbox's OpenID provider) and its own sandbox (this module's
redirect URIs). An operator's link is opened by a browser that never signed in: ``/connect/<id>`` → the
sandbox's consent page → ``/install?code&state`` → a one-line result and nothing else (no menu, no data).
A link whose state would have expired long ago still works; used and revoked links show a clear page and
reach the sandbox 0 times. Also: a sign-in cookie copied before "Sign out" is refused afterwards.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from dashboard.actors import Actor
from dashboard.connections import service as connections
from dashboard.context import AppContext, build_context
from dashboard.installs import links as install_links
from dashboard.models import InstallLink, utcnow
from dashboard.settings import load_settings
from devtools.oidc import OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
from tests.e2e.conftest import REPO, base_env, free_port, start_dashboard, start_oidc, start_server
from tests.utils.browser import keyed, wait_for_app
from tests.utils.lifecycle import ADMIN, stats

pytestmark = pytest.mark.e2e

OPERATOR = Actor("olga@ops.example.com", "operator")
ROLES = {"DASHBOARD_ADMINS": "boss@example.com", "DASHBOARD_OPERATORS": "@ops.example.com",
         "DASHBOARD_VIEWERS": "@example.com"}


@dataclass
class Rig:
    url: str
    sandbox: str
    ctx: AppContext


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    work = tmp_path_factory.mktemp("e2e-links")
    port, sandbox_port, oidc_port = free_port(), free_port(), free_port()
    base = f"http://localhost:{port}"
    oidc = start_oidc(oidc_port, f"{base}/oauth2callback", work / "oidc.log")
    sandbox = start_server(
        [sys.executable, "-m", "dashboard", "sandbox", "--port", str(sandbox_port), "--redirect-uri",
         f"{base}/install"],
        url=f"http://127.0.0.1:{sandbox_port}/_sandbox/stats", probe=lambda r: r.status_code == 200,
        env=base_env(), log=work / "sandbox.log")
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    settings_dir = work / ".streamlit"
    settings_dir.mkdir()
    shutil.copyfile(REPO / ".streamlit" / "config.toml", settings_dir / "config.toml")
    (settings_dir / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "{base}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        f'client_id = "{OIDC_CLIENT_ID}"\n'
        f'client_secret = "{OIDC_CLIENT_SECRET}"\n'
        f'server_metadata_url = "http://127.0.0.1:{oidc_port}/.well-known/openid-configuration"\n',
        encoding="utf-8")
    server = start_dashboard(work=work, port=port, sandbox_url=sandbox_url, cwd=work,
                             env={"PYTHONPATH": str(REPO), "HUBSPOT_REDIRECT_URI": f"{base}/install", **ROLES})
    # The operator's side, on the dashboard's own database (and its sandbox-mode key file).
    settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{work / 'dashboard.db'}",
                             dashboard_data_dir=work / "data", hubspot_redirect_uri=f"{base}/install")
    ctx = build_context(settings, sandbox_url=sandbox_url)
    try:
        yield Rig(base, sandbox_url, ctx)
    finally:
        ctx.close()
        server.stop()
        sandbox.stop()
        oidc.stop()


@pytest.fixture(scope="module")
def browser_context_args() -> dict[str, Any]:
    return {"viewport": {"width": 1280, "height": 800}}


def token_requests(rig: Rig) -> int:
    return sum(stats(rig.sandbox)["token_requests"].values())


def consent_requests(rig: Rig) -> int:
    return sum(stats(rig.sandbox)["consent"].values())


def customer_installs(page: Page, link_url: str, hub_id: int) -> None:
    """What the customer does: open the link, choose the account, grant; back on the dashboard."""
    page.goto(link_url)
    expect(page.locator("#app-name")).to_be_visible()  # the sandbox's consent page
    page.select_option("select#account", str(hub_id))
    page.click("button#grant")
    page.wait_for_url(re.compile(r"/install"))
    wait_for_app(page)


def test_a_customer_who_never_signed_in_installs_from_a_link_and_sees_nothing_else(
        rig: Rig, browser: Browser) -> None:
    link = install_links.create_link(rig.ctx, actor=OPERATOR, scopes=["oauth", "crm.objects.contacts.read"])
    customer = browser.new_context(viewport={"width": 1280, "height": 800})
    page = customer.new_page()
    try:
        customer_installs(page, link.url, 1000003)
        expect(page.get_by_text("Connected HubSpot account initech.hubspot.com (1000003) to the app.")).to_be_visible()
        # Nothing else: no menu, no sidebar, no data, no buttons, no sign-in screen.
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
        expect(page.get_by_test_id("stSidebar")).to_have_count(0)
        expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
        expect(page.get_by_test_id("stButton")).to_have_count(0)
        expect(page.get_by_text("Please sign in.")).to_have_count(0)
        expect(page).to_have_url(f"{rig.url}/install")  # code and state gone from the address bar
        page.reload()  # a reload does not send the code again
        wait_for_app(page)
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    finally:
        customer.close()
    conn = connections.get_connection(rig.ctx, 1000003, actor=ADMIN)
    assert conn.status == "healthy"
    [listed] = [x for x in install_links.list_links(rig.ctx, actor=OPERATOR) if x.link_id == link.link_id]
    assert listed.status == "used" and listed.used_hub_id == 1000003

    # The same link again, from another browser: a clear page, and nothing reaches the sandbox.
    before = (token_requests(rig), consent_requests(rig), stats(rig.sandbox).get("authorize", 0))
    again = browser.new_context().new_page()
    response = again.goto(link.url)
    assert response is not None and response.status == 410
    expect(again.locator("#message")).to_contain_text("already used")
    assert again.url == link.url  # no redirect to HubSpot
    again.context.close()
    assert (token_requests(rig), consent_requests(rig), stats(rig.sandbox).get("authorize", 0)) == before


def test_a_pinned_link_edited_to_another_account_is_refused_and_the_customer_is_told(
        rig: Rig, browser: Browser) -> None:
    link = install_links.create_link(rig.ctx, actor=OPERATOR, scopes=["oauth"], account_id=1000001)
    customer = browser.new_context(viewport={"width": 1280, "height": 800})
    page = customer.new_page()
    try:
        page.goto(link.url)
        expect(page.locator("#app-name")).to_be_visible()
        assert "/oauth/1000001/authorize" in page.url
        page.goto(page.url.replace("/oauth/1000001/authorize", "/oauth/authorize"))  # the account edited out
        page.select_option("select#account", "1000002")
        page.click("button#grant")
        page.wait_for_url(re.compile(r"/install"))
        wait_for_app(page)
        expect(page.get_by_test_id("stAlertContentError")).to_contain_text(
            "This install was for HubSpot account 1000001, but HubSpot connected account 1000002. "
            "Nothing was changed.")
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    finally:
        customer.close()
    with rig.ctx.session() as session:
        from dashboard import repository

        assert repository.get_portal(session=session, hub_id=1000002) is None
    [listed] = [x for x in install_links.list_links(rig.ctx, actor=OPERATOR) if x.link_id == link.link_id]
    assert listed.status == "open"  # the right account can still use it


def test_a_week_old_link_works_and_a_revoked_one_is_refused(rig: Rig, browser: Browser) -> None:
    old = install_links.create_link(rig.ctx, actor=OPERATOR, scopes=["oauth"])
    with rig.ctx.session() as session:  # made 6 days ago: any state from then would be long dead
        session.execute(update(InstallLink).where(InstallLink.id == old.link_id)  # type: ignore[arg-type]
                        .values(created_at=utcnow() - timedelta(days=6)))
        session.commit()
    page = browser.new_context().new_page()
    customer_installs(page, old.url, 1000001)
    expect(page.get_by_text(re.compile(r"Connected HubSpot account .*\(1000001\)"))).to_be_visible()
    page.context.close()

    revoked = install_links.create_link(rig.ctx, actor=OPERATOR, scopes=["oauth"])
    install_links.revoke_link(rig.ctx, actor=OPERATOR, link_id=revoked.link_id)
    before = (token_requests(rig), consent_requests(rig))
    page = browser.new_context().new_page()
    response = page.goto(revoked.url)
    assert response is not None and response.status == 410
    expect(page.locator("#message")).to_contain_text("withdrawn by its sender")
    expect(page.locator("a, img")).to_have_count(0)
    page.goto(f"{rig.url}/connect/{'x' * 43}")
    expect(page.locator("#message")).to_contain_text("not valid")
    page.context.close()
    assert (token_requests(rig), consent_requests(rig)) == before


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(base)
    wait_for_app(page)
    keyed(page, "auth_login").get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/oidc/authorize\?"))
    page.fill("input#email", email)
    page.click("button#signin")
    page.wait_for_url(re.compile(re.escape(base) + r"/?$"))
    wait_for_app(page)


def test_a_cookie_copied_before_sign_out_is_refused_after_it(rig: Rig, browser: Browser) -> None:
    first = browser.new_context(viewport={"width": 1280, "height": 800})
    page = first.new_page()
    sign_in(page, rig.url, "ana@example.com")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Signed in as ana@example.com (viewer)")
    stolen = first.cookies()
    assert any(c["name"].startswith("_streamlit_user") for c in stolen)
    keyed(page, "auth_logout").get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Please sign in.")).to_be_visible()
    first.close()

    replay = browser.new_context(viewport={"width": 1280, "height": 800})
    replay.add_cookies(stolen)  # type: ignore[arg-type]
    page = replay.new_page()
    page.goto(rig.url)
    wait_for_app(page)
    expect(page.get_by_text("You signed out of this dashboard after this sign-in began")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    expect(page.get_by_role("heading", name="Connections", level=1)).to_have_count(0)
    replay.close()

    fresh = browser.new_context(viewport={"width": 1280, "height": 800})
    page = fresh.new_page()
    sign_in(page, rig.url, "ana@example.com")  # signing in again works
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Signed in as ana@example.com (viewer)")
    fresh.close()
