"""Two HubSpot apps for the apps tests: the session sandbox (production) and a second sandbox (staging) with
its own client id and secret, declared in a DASHBOARD_APPS_FILE, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashboard.context import AppContext, build_context
from dashboard.installs import flow as install
from dashboard.sandbox import DEFAULT_REDIRECT_URI, SandboxConfig, SandboxServer
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.utils.lifecycle import ADMIN, FAST_RETRY, grant

HUB = 1000001  # the sandbox's free account: the same hub id in both sandboxes
STAGING = {"client_id": "staging-0000-4000-8000-000000000001", "client_secret": "staging-secret-4000-8000-0002"}


@pytest.fixture(scope="module")
def staging_server() -> Iterator[SandboxServer]:
    """A second HubSpot app: its own sandbox, client id and secret."""
    with SandboxServer(SandboxConfig(**STAGING)).start() as server:
        yield server


@pytest.fixture
def staging(staging_server: SandboxServer) -> SandboxServer:
    httpx.post(f"{staging_server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return staging_server


def apps_toml(production: SandboxServer, staging: SandboxServer) -> str:
    from dashboard.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

    def table(name: str, url: str, client_id: str, secret: str, prod: bool) -> str:
        return (f'[apps.{name}]\nclient_id = "{client_id}"\nclient_secret = "{secret}"\n'
                f'redirect_uri = "{DEFAULT_REDIRECT_URI}"\napp_base_url = "{url}"\napi_base_url = "{url}"\n'
                f"production = {'true' if prod else 'false'}\n")
    return (table("production", production.url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, True)
            + table("staging", staging.url, STAGING["client_id"], STAGING["client_secret"], False))


@pytest.fixture
def env(tmp_path: Path, any_db_url: str, sandbox: SandboxServer, staging: SandboxServer,
        monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The dashboard's environment: the two apps in DASHBOARD_APPS_FILE, a database, a key."""
    (tmp_path / "apps.toml").write_text(apps_toml(sandbox, staging), encoding="utf-8")
    values = {"DASHBOARD_APPS_FILE": str(tmp_path / "apps.toml"), "DASHBOARD_DATABASE_URL": any_db_url,
              "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("k1"), "DASHBOARD_DATA_DIR": str(tmp_path / "data")}
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml of the developer's
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def ctx(env: dict[str, str]) -> Iterator[AppContext]:
    context = build_context(load_settings(env, secrets_path=None), retry=FAST_RETRY)
    yield context
    context.close()


def install_in(ctx: AppContext, app: str, sandbox_url: str) -> None:
    """Start the install in ``app`` (the page's switcher), finish it on the shared /install callback (the
    default app's context: the state says which app's credentials exchange the code)."""
    start = install.start_install(ctx.for_app(app), actor=ADMIN, scopes=["oauth", "crm.objects.contacts.read"],
                                  optional_scopes=[], account_id=HUB)
    callback = grant(sandbox_url, start.url, account_id=HUB)
    result = install.finish_install(ctx, actor=ADMIN, params=install.callback_params(callback))
    assert result.hub_id == HUB
