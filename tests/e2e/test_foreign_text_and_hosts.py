"""A dashboard without sign-in, attacked from the browser: DNS rebinding, a foreign websocket, hostile text.

- Chromium maps ``rebind.attacker.test`` to 127.0.0.1 (``--host-resolver-rules``), as a rebinding page
  would: the dashboard under that name serves no data and no buttons, and writes no audit event.
- A page on another origin opens a websocket to the dashboard: refused (the dashboard's own page: accepted).
- Portals whose domain, installing user and last error, and a callback whose ``error_description``, carry
  Markdown links, Markdown images and HTML pointing at a local listener: nothing is rendered as a link or
  an image, and the listener receives 0 requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from dashboard import repository
from dashboard.connections import activity
from dashboard.context import AppContext, build_context
from dashboard.hubspot.authorize import parse_authorize_url
from dashboard.installs import flow as install
from dashboard.settings import load_settings
from tests.e2e.conftest import CHROMIUM_ARGS, free_port, start_dashboard
from tests.utils.browser import keyed, open_page, wait_for_app
from tests.utils.lifecycle import ADMIN
from tests.utils.seeding import seed_portals

pytestmark = pytest.mark.e2e

REBIND = "rebind.attacker.test"


@dataclass
class Listener:
    """A local HTTP server standing in for an attacker's host: counts every request it gets."""

    port: int
    hits: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b"<!doctype html><title>attacker</title><p>attacker page</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Listener(server.server_address[1], hits)
    server.shutdown()
    server.server_close()


@dataclass
class Dash:
    url: str
    port: int
    ctx: AppContext


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory, sandbox_url: str) -> Iterator[Dash]:
    work = tmp_path_factory.mktemp("e2e-hostile")
    port = free_port()
    redirect = f"http://localhost:{port}/install"
    server = start_dashboard(work=work, port=port, sandbox_url=sandbox_url, env={"HUBSPOT_REDIRECT_URI": redirect})
    settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{work / 'dashboard.db'}",
                             dashboard_data_dir=work / "data", hubspot_redirect_uri=redirect)
    ctx = build_context(settings, sandbox_url=sandbox_url)
    try:
        yield Dash(f"http://localhost:{port}", port, ctx)
    finally:
        ctx.close()
        server.stop()


def hostile(listener: Listener, what: str) -> str:
    """Markdown link, Markdown image and HTML image, all pointing at the listener."""
    return (f"[{what} log in here]({listener.url}/{what}-link) ![{what}]({listener.url}/{what}-md.png) "
            f"<img src=\"{listener.url}/{what}-html.png\"> <a href=\"{listener.url}/{what}-a\">{what}</a> "
            f"www.{what}.attacker.test")


def seen(locator: Locator) -> str:
    return locator.inner_text().strip()


def no_link_or_image_to(page: Page, listener: Listener) -> None:
    expect(page.locator(f"a[href*='127.0.0.1:{listener.port}']")).to_have_count(0)  # not the heading's anchor
    expect(page.locator(f"img[src*='{listener.port}']")).to_have_count(0)
    expect(page.locator("a[href*='attacker.test']")).to_have_count(0)


def test_hostile_domains_emails_and_error_descriptions_render_as_text(
        dash: Dash, sandbox_url: str, listener: Listener, page: Page, screenshot: Callable[..., Path]) -> None:
    [hub] = seed_portals(dash.ctx, sandbox_url, 1, due=False)
    domain, email, error = hostile(listener, "domain"), hostile(listener, "email") + "@evil.test", hostile(
        listener, "error")
    with dash.ctx.session() as session:
        repository.update_portal(session=session, hub_id=hub, values={
            "hub_domain": domain[:255], "installed_by": email[:320], "last_error": error,
            "status": "refresh_failing", "consecutive_failures": 2})
        session.commit()

    page.goto(dash.url)
    wait_for_app(page)
    table = keyed(page, "conn_table")
    table.get_by_test_id("stDataFrameResizable").click(position={"x": 18, "y": 54})  # select the row
    heading = page.get_by_role("heading", name=f"Hub {hub}")
    expect(heading).to_contain_text("[domain log in here](")
    wait_for_app(page)
    # Shown as text: what a reader sees is the hostile string itself.
    assert seen(heading) == f"Hub {hub} · {domain[:255]}"
    assert email in seen(page.get_by_test_id("stMarkdown").filter(has_text="installed by"))
    assert error in seen(page.get_by_test_id("stAlert").filter(has_text="Last error"))
    no_link_or_image_to(page, listener)
    screenshot(page, "hostile-details")

    # An install refused by "HubSpot" with a hostile error_description, on the callback page.
    state = parse_authorize_url(install.start_install(dash.ctx, actor=ADMIN, scopes=["oauth"]).url).state
    description = hostile(listener, "description")
    page.goto(f"{dash.url}/install?state={state}&error=access_denied&error_description={quote(description)}")
    wait_for_app(page)
    failed = page.get_by_test_id("stAlert").filter(has_text="The install did not complete")
    expect(failed).to_contain_text("![description](")
    assert description in seen(failed)
    no_link_or_image_to(page, listener)

    open_page(page, "Activity")  # the audit detail quotes the description, in dataframe cells
    no_link_or_image_to(page, listener)
    page.wait_for_timeout(1000)  # give any image a moment to be fetched
    assert listener.hits == [], f"the page fetched from the listener: {listener.hits}"


@pytest.fixture(scope="module")
def rebinding_browser(launch_browser: Callable[..., Browser], listener: Listener) -> Iterator[Browser]:
    """Chromium resolving rebind.attacker.test to 127.0.0.1, as after a DNS rebinding."""
    browser = launch_browser(args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBIND} 127.0.0.1"])
    try:
        yield browser
    finally:
        browser.close()


def audit_count(ctx: AppContext) -> int:
    return len(activity.audit_events(ctx, actor=ADMIN, limit=10_000))


def test_a_rebound_host_name_gets_no_data_no_buttons_and_writes_nothing(dash: Dash, rebinding_browser: Browser,
                                                                         sandbox_url: str) -> None:
    seed_portals(dash.ctx, sandbox_url, 1, due=False)
    with dash.ctx.session() as session:
        hubs = [row["hub_id"] for row in repository.list_portal_rows(session=session)]
    before = audit_count(dash.ctx)
    page = rebinding_browser.new_page()
    response = page.goto(f"http://{REBIND}:{dash.port}/")
    assert response is not None and response.status == 403
    expect(page.locator("body")).to_contain_text("answers only to a loopback address")
    body = page.content()
    assert "Signed in as" not in body and not any(str(h) in body for h in hubs)
    expect(page.locator("button")).to_have_count(0)
    for path in ("/install", "/connect/anything", "/healthz", "/_stcore/health"):  # the same Host, any route
        resp = httpx.get(f"http://127.0.0.1:{dash.port}{path}", headers={"Host": f"{REBIND}:{dash.port}"})
        assert resp.status_code == 403, path
    page.close()
    assert audit_count(dash.ctx) == before


WEBSOCKET = """url => new Promise(done => {
    const ws = new WebSocket(url);
    ws.onopen = () => { ws.close(); done("open"); };
    ws.onerror = () => done("refused");
    setTimeout(() => done("timeout"), 8000);
})"""


def test_a_websocket_from_a_foreign_origin_is_refused(dash: Dash, rebinding_browser: Browser,
                                                      listener: Listener) -> None:
    before = audit_count(dash.ctx)
    stream = f"ws://localhost:{dash.port}/_stcore/stream"
    page = rebinding_browser.new_page()
    page.goto(f"{dash.url}/")  # the dashboard's own page: its websocket opens (the check can tell)
    wait_for_app(page)
    assert page.evaluate(WEBSOCKET, stream) == "open"
    for foreign in (f"http://{REBIND}:{listener.port}/", f"{listener.url}/"):  # another name, another port
        page.goto(foreign)
        assert page.evaluate(WEBSOCKET, stream) == "refused", foreign
    page.close()
    assert audit_count(dash.ctx) == before
