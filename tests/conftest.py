"""Shared fixtures: a clean environment, a real SQLite file per test, the sandbox over loopback.

PostgreSQL and Redis fixtures live in tests/utils/backends.py; a test asks for them by name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboard.context import AppContext, build_context
from dashboard.sandbox import SandboxConfig, SandboxServer
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import Settings, load_settings
from tests.utils.chromium import missing_reason
from tests.utils.lifecycle import FAST_RETRY

pytest_plugins = ["tests.utils.backends"]

# The checkout's own data directory, where the README's first command keeps its database and sandbox key. A
# test that runs the dashboard's code with default settings writes there (a key the developer's dashboard would
# then use): the run fails if it appears during the tests (tests/test_token_reads.py once did it).
_CHECKOUT_DATA = Path(__file__).resolve().parents[1] / "data"
_checkout_data_before: list[set[str]] = []


def _checkout_data_entries() -> set[str]:
    # Only what a first start creates: a dashboard the developer runs from the checkout meanwhile adds and
    # removes its -wal/-shm files, and finds these two already there.
    return {name for name in ("dashboard.db", "sandbox-encryption.key") if (_CHECKOUT_DATA / name).exists()}


def pytest_sessionstart(session: pytest.Session) -> None:
    _checkout_data_before.append(_checkout_data_entries())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput") or not _checkout_data_before:
        return  # xdist workers: the controller checks once, after all of them
    added = _checkout_data_entries() - _checkout_data_before[0]
    if added:
        session.config.get_terminal_writer().line(
            f"a test wrote into the checkout's {_CHECKOUT_DATA}: {', '.join(sorted(added))} (give it the test's "
            "DASHBOARD_DATA_DIR)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``--dist loadgroup``, the README's test command) every browser test goes to one
    worker: they share a session's dashboard, sandbox and Chromium, which each worker would otherwise start.
    Without Chromium they are skipped here, before any of their fixtures starts a server, with a reason that
    says how to install it (tests/utils/chromium.py)."""
    no_browser = missing_reason()
    for item in items:
        if item.nodeid.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.xdist_group("browser"))
            if no_browser is not None:
                item.add_marker(pytest.mark.skip(reason=no_browser))


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HUBSPOT_* / DASHBOARD_* variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("HUBSPOT_", "DASHBOARD_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One sandbox for the session; the ``sandbox`` fixture resets it for each test."""
    with SandboxServer(SandboxConfig()).start() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    httpx.post(f"{sandbox_server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return sandbox_server


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dashboard.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a fresh PostgreSQL database. Modules opt in with
    ``db_url = any_db_url`` style overrides (see test_lifecycle.py)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dashboard.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings_factory(tmp_path: Path, db_url: str) -> Any:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "dashboard_database_url": db_url,
            "dashboard_data_dir": tmp_path / "data",
            "dashboard_encryption_keys": generate_key_entry("test1"),
        }
        values.update(overrides)
        return load_settings({}, secrets_path=None, **values)

    return make


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory()


@pytest.fixture
def ctx(settings: Settings, sandbox: SandboxServer) -> Iterator[AppContext]:
    """A context on a fresh SQLite file, talking to the (reset) sandbox in sandbox mode."""
    context = build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)
    yield context
    context.close()


@pytest.fixture
def alert_sink() -> Iterator[tuple[str, list[bytes]]]:
    """A local alert webhook: its URL, and the payloads it received."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()
    server.server_close()
