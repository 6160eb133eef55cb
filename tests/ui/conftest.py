"""UI fixtures: the dashboard configured by environment variables, portals seeded through the real flow.

The Streamlit app builds its context from the environment (``dashboard.ui.context``); ``ui_env`` points it
at the test's SQLite file, key and the session sandbox, shared with the test-side ``ctx`` that seeds
portals with the real install flow (``start_install`` → sandbox consent → ``finish_install``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.context import AppContext
from dashboard.installs.flow import InstallResult
from dashboard.sandbox import SandboxServer
from dashboard.settings import Settings
from tests.utils.lifecycle import install_portal
from tests.utils.pages import ACME, APP, GATED_OPTIONAL, GLOBEX, INITECH, TIMEOUT, loopback_app


@pytest.fixture
def ui_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, sandbox: SandboxServer) -> Iterator[None]:
    """Environment for the app: the same database and key as ``settings``, the (reset) session sandbox."""
    keys = settings.dashboard_encryption_keys
    assert keys is not None
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", settings.dashboard_database_url)
    monkeypatch.setenv("DASHBOARD_ENCRYPTION_KEYS", keys.get_secret_value())
    monkeypatch.setenv("DASHBOARD_SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("DASHBOARD_DATA_DIR", str(settings.dashboard_data_dir))
    with loopback_app():
        yield


@pytest.fixture
def seeded(ctx: AppContext, sandbox: SandboxServer, ui_env: None) -> dict[int, InstallResult]:
    """The sandbox's three accounts installed; acme's tier drops the optional scope initech grants."""
    return {
        ACME: install_portal(ctx, sandbox.url, account_id=ACME, optional=(GATED_OPTIONAL,)),
        GLOBEX: install_portal(ctx, sandbox.url, account_id=GLOBEX,
                               scopes=("oauth", "crm.objects.contacts.read", "crm.objects.companies.read")),
        INITECH: install_portal(ctx, sandbox.url, account_id=INITECH, optional=(GATED_OPTIONAL,)),
    }


@pytest.fixture
def open_page(ui_env: None) -> Callable[..., AppTest]:
    """``open_page("pages/x.py", **query_params)``: the router app, run on that page (default: home)."""
    def run(page: str | None = None, **query_params: Any) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        if page is not None:
            at.run()  # the router registers its pages on the first run; switch_page needs them
            at.switch_page(page)
        at.query_params.update({name: str(value) for name, value in query_params.items()})
        at.run()
        assert not at.exception, at.exception
        return at

    return run
