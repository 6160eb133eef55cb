"""The README's run command alone keeps tokens fresh: the worker embedded in ``streamlit run streamlit_app.py``.

Each test starts its own sandbox (its token lifetime is changed through ``/_sandbox/config``) and its own
dashboards on a temporary SQLite file. The portals are installed by the test itself (it plays the browser of
the install flow, which tests/e2e/test_install_flow.py drives for real); no refresh process is started
besides the dashboards. The leeway is shorter than the 60 s lifetime so the page can show a portal healthy.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from dashboard import repository
from dashboard.context import build_context
from dashboard.models import PortalStatus
from dashboard.settings import load_settings
from tests.e2e.conftest import Server, free_port, start_dashboard
from tests.utils.browser import keyed, wait_for_app
from tests.utils.lifecycle import add_accounts, install_portal, sandbox_tokens, stats
from tests.utils.sandbox_process import start_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TTL = 60
WORKER_ENV = {"DASHBOARD_WORKER_INTERVAL_SECONDS": "1", "DASHBOARD_REFRESH_LEEWAY_SECONDS": "40"}


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A sandbox of this test's own, access tokens living 60 s; yields its URL and the dashboard's port."""
    port, app_port = free_port(), free_port()
    server, url = start_sandbox(port, f"http://localhost:{app_port}/install", tmp_path / "sandbox.log")
    try:
        httpx.post(f"{url}/_sandbox/config", json={"access_token_ttl": TTL}, timeout=5).raise_for_status()
        yield url, app_port
    finally:
        server.stop()


def install(work: Path, sandbox_url: str, app_port: int, count: int) -> list[int]:
    """``count`` portals installed into the dashboard's database (same file, same sandbox key)."""
    settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{work / 'dashboard.db'}",
                             dashboard_data_dir=work / "data", hubspot_redirect_uri=f"http://localhost:{app_port}/install")
    ctx = build_context(settings, sandbox_url=sandbox_url)
    try:
        return [install_portal(ctx, sandbox_url, account_id=hub).hub_id for hub in add_accounts(sandbox_url, count)]
    finally:
        ctx.close()


def audit_rows(work: Path, sandbox_url: str) -> tuple[list[Any], dict[int, str]]:
    settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{work / 'dashboard.db'}",
                             dashboard_data_dir=work / "data")
    ctx = build_context(settings, sandbox_url=sandbox_url, migrate=False)
    try:
        with ctx.session() as session:
            events = repository.list_audit_events(session=session, action="refresh", limit=10_000)
            portals = {p["hub_id"]: p["status"] for p in repository.list_portal_rows(session=session)}
        return events, portals
    finally:
        ctx.close()


def heartbeats(work: Path, sandbox_url: str) -> list[Any]:
    settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{work / 'dashboard.db'}",
                             dashboard_data_dir=work / "data")
    ctx = build_context(settings, sandbox_url=sandbox_url, migrate=False)
    try:
        with ctx.session() as session:
            return repository.list_heartbeats(session=session)
    finally:
        ctx.close()


def assert_no_traceback_from_us(server: Server) -> None:
    """No traceback through our code (Streamlit may log its own websocket races when a server stops)."""
    ours = re.findall(r'File "[^"]*/(?:dashboard|pages)/[^"]*"|File "[^"]*streamlit_app.py"', server.log.read_text())
    assert not ours, ours


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.5)


def test_the_run_command_alone_refreshes_and_the_page_shows_it_healthy(
        own_sandbox: tuple[str, int], tmp_path: Path, browser: Browser) -> None:
    sandbox_url, port = own_sandbox
    server = start_dashboard(work=tmp_path, port=port, sandbox_url=sandbox_url, env=WORKER_ENV)
    try:
        [hub] = install(tmp_path, sandbox_url, port, 1)
        started = time.monotonic()
        wait_until(lambda: stats(sandbox_url)["refresh_by_hub"].get(str(hub), 0) >= 1, 150,
                   "the sandbox counted a refresh by the embedded worker")
        assert time.monotonic() - started <= 150
        pages = [browser.new_page(viewport={"width": 1280, "height": 800}) for _ in range(2)]
        try:
            for page in pages:  # two browser sessions
                page.goto(f"http://localhost:{port}/")
                wait_for_app(page)
            page = pages[-1]
            healthy = page.get_by_test_id("stMetric").filter(has=page.get_by_text("Healthy", exact=True))
            expect(healthy.get_by_test_id("stMetricValue")).to_have_text("1")
            expect(keyed(page, "conn_status_line")).to_contain_text("Last sweep")
            expect(keyed(page, "conn_status_line")).to_contain_text("embedded:")
        finally:
            for page in pages:
                page.close()
    finally:
        server.stop()
    assert_no_traceback_from_us(server)
    # One worker for the server process, whatever the number of browser sessions; stopped with the server.
    [beat] = heartbeats(tmp_path, sandbox_url)
    assert (beat.kind, beat.pid) == ("embedded", server.process.pid)
    assert beat.stopped_at is not None and beat.total_refreshed >= 1 and beat.total_failures == 0


def test_two_dashboards_on_one_database_never_refresh_a_portal_twice(
        own_sandbox: tuple[str, int], tmp_path: Path) -> None:
    sandbox_url, port = own_sandbox
    # Due 3 s after each refresh, swept every half second by both processes: every pass of one races the other.
    env = {"DASHBOARD_WORKER_INTERVAL_SECONDS": "0.5", "DASHBOARD_REFRESH_LEEWAY_SECONDS": "57"}
    servers: list[Server] = [start_dashboard(work=tmp_path, port=port, sandbox_url=sandbox_url, env=env)]
    try:
        (tmp_path / "second").mkdir()
        servers.append(start_dashboard(work=tmp_path / "second", port=free_port(), sandbox_url=sandbox_url,
                                       env=env | {"DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'dashboard.db'}",
                                                  "DASHBOARD_DATA_DIR": str(tmp_path / "data")}))
        hubs = install(tmp_path, sandbox_url, port, 4)
        started = time.monotonic()
        wait_until(lambda: all(stats(sandbox_url)["refresh_by_hub"].get(str(h), 0) >= 1 for h in hubs)
                   and time.monotonic() - started >= 12, 150, "every portal refreshed")
    finally:
        for server in servers:
            server.stop()
    grants = {int(h): n for h, n in stats(sandbox_url)["refresh_by_hub"].items()}
    events, portals = audit_rows(tmp_path, sandbox_url)
    successes: dict[int, int] = {}
    for e in events:
        assert e.outcome == "success", f"hub {e.hub_id}: refresh {e.outcome} ({e.detail})"
        assert e.actor.startswith("worker:embedded:")
        successes[e.hub_id] = successes.get(e.hub_id, 0) + 1
    assert grants == successes  # every grant HubSpot made was stored, none twice
    assert all(portals[h] == PortalStatus.ACTIVE for h in hubs), portals
    live = {t["token"] for t in sandbox_tokens(sandbox_url) if t["kind"] == "refresh" and t["active"]}
    assert len(live) == len(hubs)  # rotation on: one live refresh token per portal, no needs_reauth
    for server in servers:
        assert_no_traceback_from_us(server)
