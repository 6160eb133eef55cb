"""Browser tests: the real dashboard (``streamlit run``) against the sandbox HubSpot, driven by Debian's Chromium.

Both servers run as subprocesses on free ports for the whole session, with a temporary SQLite file and data
directory, the way Streamlit tests itself (``e2e_playwright/conftest.py``): start ``streamlit run`` headless,
poll ``/_stcore/health`` until ``ok``, then wait for the app's script to finish after each navigation.
Playwright cannot download browsers here, so ``browser_type_launch_args`` points it at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserType, Page, Playwright, expect, sync_playwright

from tests.utils.browser import wait_for_app
from tests.utils.chromium import chromium_path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = chromium_path()
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A bound on a server that never answers, not a speed: on 2 cores shared by the parallel suite (load 12-14)
# a dashboard took over 60 s from "You can now view" to a healthy /_stcore/health. A start that works
# returns as soon as the probe answers, so only a hang waits this long.
START_TIMEOUT = 180.0
SCREENSHOTS = REPO / "artifacts" / "screenshots"

# Playwright's 5 s default for expect() is a fast machine's figure: on 2 loaded cores a Streamlit rerun after
# a click can take longer. A passing assertion returns as soon as it holds, so this only slows failures.
expect.set_options(timeout=15_000)


def free_port() -> int:
    """A free port below the kernel's ephemeral range.

    The port is chosen at session start but bound later (the redirect URIs must know it up front). A port
    from the ephemeral range could meanwhile become the local end of any outgoing connection, and the
    server would fail with "Port ... is not available"; ports below that range are never handed out so.
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


@dataclass
class Server:
    """A subprocess serving at ``url``; its output goes to ``log``."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # by pid: only the process this fixture started
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(args: list[str], *, url: str, probe: Callable[[httpx.Response], bool], env: dict[str, str],
                 log: Path, cwd: Path = REPO) -> Server:
    """Start ``args`` in ``cwd`` and poll ``probe`` on ``url`` until it holds (or fail with the server's output)."""
    with log.open("wb") as sink:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    server = Server(process, url, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{args[2:4]} exited with {process.returncode}:\n{server.output()}")
        try:
            if probe(httpx.get(url, timeout=1, trust_env=False)):
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{args[2:4]} did not answer {url} within {START_TIMEOUT:.0f} s:\n{server.output()}")


def base_env() -> dict[str, str]:
    """The caller's environment without any HUBSPOT_* / DASHBOARD_* setting (no real app, no real database)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DASHBOARD_"))}


def streamlit_command(script: Path | str, port: int) -> list[str]:
    """``streamlit run`` headless on ``port`` and 127.0.0.1, as every browser test starts the dashboard."""
    return [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
            # Others edit the tree while tests run: never re-import changed modules mid-run.
            "--server.fileWatcherType", "none"]


def start_dashboard(*, work: Path, port: int, sandbox_url: str, env: dict[str, str] | None = None,
                    cwd: Path = REPO) -> Server:
    """The dashboard in sandbox mode on a temporary SQLite file in ``work``; ``env`` adds settings."""
    env = base_env() | {
        "DASHBOARD_DATABASE_URL": f"sqlite:///{work / 'dashboard.db'}",
        "DASHBOARD_DATA_DIR": str(work / "data"),
        "DASHBOARD_SANDBOX_URL": sandbox_url,
        "HUBSPOT_REDIRECT_URI": f"http://localhost:{port}/install",
        **(env or {}),
    }
    return start_server(streamlit_command(REPO / "streamlit_app.py", port),
                        url=f"http://127.0.0.1:{port}/_stcore/health", probe=lambda r: r.text == "ok", env=env,
                        log=work / "streamlit.log", cwd=cwd)


@pytest.fixture(scope="session")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def redirect_uri(app_port: int) -> str:
    # HubSpot's rule: http only with host localhost, never an IP address; Chromium resolves it to 127.0.0.1.
    return f"http://localhost:{app_port}/install"


@pytest.fixture(scope="session")
def signin_port() -> int:
    """The port of the dashboard started with sign-in (``tests/e2e/test_sign_in.py``)."""
    return free_port()


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory, redirect_uri: str) -> Iterator[str]:
    """``python -m dashboard sandbox`` on a free port, registering the dashboard's redirect URI."""
    port = free_port()
    logs = tmp_path_factory.mktemp("e2e-logs")
    server = start_server(
        [sys.executable, "-m", "dashboard", "sandbox", "--port", str(port), "--redirect-uri", redirect_uri],
        url=f"http://127.0.0.1:{port}/_sandbox/stats", probe=lambda r: r.status_code == 200, env=base_env(),
        log=logs / "sandbox.log",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def start_oidc(port: int, redirect_uri: str, log: Path) -> Server:
    """``python -m devtools.oidc`` (the test OpenID provider) on ``port``, registering ``redirect_uri``."""
    return start_server(
        [sys.executable, "-m", "devtools.oidc", "--port", str(port), "--redirect-uri", redirect_uri],
        url=f"http://127.0.0.1:{port}/.well-known/openid-configuration", probe=lambda r: r.status_code == 200,
        env=base_env(), log=log, cwd=REPO)


@pytest.fixture(scope="session")
def oidc_url(tmp_path_factory: pytest.TempPathFactory, signin_port: int) -> Iterator[str]:
    """The test OpenID provider, registering the sign-in dashboard's ``/oauth2callback``."""
    port = free_port()
    server = start_oidc(port, f"http://localhost:{signin_port}/oauth2callback",
                        tmp_path_factory.mktemp("e2e-oidc") / "oidc.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory, app_port: int, redirect_uri: str,
            sandbox_url: str) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` in sandbox mode on a temporary SQLite database; yields its base URL."""
    work = tmp_path_factory.mktemp("e2e-app")
    server = start_dashboard(work=work, port=app_port, sandbox_url=sandbox_url,
                             env={"HUBSPOT_REDIRECT_URI": redirect_uri})
    try:
        yield f"http://localhost:{app_port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def base_url(app_url: str) -> str:
    """``page.goto("/scopes")`` goes to the dashboard. Also replaces pytest-playwright's own ``base_url``
    fixture, a session fixture written as an instance method that pytest 9 warns about (an error here)."""
    return app_url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium instead of a downloaded browser (``playwright install`` is not possible here)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


# Playwright's sync API leaves its asyncio loop "running" on the main thread for as long as Playwright is
# started (microsoft/playwright-pytest#167). pytest-playwright starts it once per session, so every later test
# that calls asyncio.run() would fail in a full run. These overrides give Playwright, the browser and the
# context arguments this module's lifetime instead; the loop is gone before the next module runs.


@pytest.fixture(scope="module")
def playwright(_pw_api_request_contexts: Any) -> Iterator[Playwright]:
    pw = sync_playwright().start()
    if _pw_api_request_contexts:
        _pw_api_request_contexts.instrument(pw)
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright, browser_name: str | None) -> BrowserType:
    return getattr(playwright, browser_name or "chromium")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def launch_browser(browser_type_launch_args: dict[str, Any], browser_type: BrowserType) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="module")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def browser_context_args(base_url: str) -> dict[str, Any]:
    """A 1280x800 viewport (the README screenshots) and the dashboard as the base URL."""
    return {"base_url": base_url, "viewport": {"width": 1280, "height": 800}}


# Streamlit scrolls inside its main container, so a "full page" screenshot only shows the viewport; grow the
# viewport to the content's height for the shot instead.
CONTENT_HEIGHT = """() => Math.max(window.innerHeight, document.documentElement.scrollHeight,
    ...[...document.querySelectorAll("[data-testid='stMain'], [data-testid='stSidebarContent']")]
        .map((e) => e.scrollHeight))"""


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(page, "connections", docs=True)``: a full-page PNG in artifacts/screenshots/ (git-ignored).

    With ``E2E_DOC_SCREENSHOTS=1`` in the environment, the ``docs=True`` ones are also copied to
    docs/screenshots/ for the README (so an ordinary test run never rewrites committed files).
    ``streamlit=False`` for pages that are not the dashboard (the sandbox's consent page).
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for_docs = os.environ.get("E2E_DOC_SCREENSHOTS") == "1"

    def take(page: Page, name: str, *, docs: bool = False, streamlit: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        size = page.viewport_size
        if streamlit:
            page.mouse.move(size["width"] - 1 if size else 0, 1)  # no hover effects (the sidebar's collapse button)
            wait_for_app(page)
        if streamlit and size is not None:
            height = min(int(page.evaluate(CONTENT_HEIGHT)), 4000)
            page.set_viewport_size({"width": size["width"], "height": height})
        try:
            page.screenshot(path=str(path), full_page=True, animations="disabled")
        finally:
            if size is not None:
                page.set_viewport_size(size)
        if docs and for_docs:
            target = REPO / "docs" / "screenshots"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / path.name)
        return path

    return take

