"""[apps.<id>] tables (issue 27 item 1): where they are read from, how the single-app settings and the
zero-config sandbox fit in, and one line naming the app and the key for every bad input, before anything is
written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dashboard.cli.main import main
from dashboard.context import build_context
from dashboard.errors import ConfigurationError, UnknownAppError
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings

REDIRECT = "https://dashboard.example.com/install"
PROD_SECRET = "prod-secret-0f3c9a"
STAGING_SECRET = "staging-secret-77e1"
TWO_APPS = f"""
[apps.production]
client_id = "prod-client"
client_secret = "{PROD_SECRET}"
redirect_uri = "{REDIRECT}"
production = true
label = "Production"
scopes = ["oauth", "crm.objects.contacts.read"]

[apps.staging]
client_id = "staging-client"
client_secret = "{STAGING_SECRET}"
redirect_uri = "{REDIRECT}"
api_base_url = "https://staging-api.example.com/"
scopes = "oauth tickets"
"""


def write(tmp_path: Path, text: str, name: str = "secrets.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tables_in_secrets_toml_are_the_apps(tmp_path: Path) -> None:
    s = load_settings({}, secrets_path=write(tmp_path, TWO_APPS))
    assert not s.sandbox_mode
    assert [a.id for a in s.declared_apps()] == ["production", "staging"]
    prod, staging = s.declared_apps()
    assert prod.production and not staging.production
    assert prod.display_name == "Production" and staging.display_name == "staging"
    assert staging.scopes == ("oauth", "tickets") and staging.api_base_url == "https://staging-api.example.com"
    assert s.default_app_id == "production"  # neither DASHBOARD_APP_ID nor an app named default: the first
    assert PROD_SECRET not in repr(s) and PROD_SECRET in s.secret_values() and STAGING_SECRET in s.secret_values()


def test_apps_file_replaces_the_secrets_tables(tmp_path: Path) -> None:
    other = write(tmp_path, TWO_APPS.replace("[apps.staging]", "[apps.dev]"), "apps.toml")
    s = load_settings({"DASHBOARD_APPS_FILE": str(other)}, secrets_path=write(tmp_path, TWO_APPS))
    assert [a.id for a in s.declared_apps()] == ["production", "dev"]
    with pytest.raises(ConfigurationError, match=r"^DASHBOARD_APPS_FILE: .*missing.toml is not a readable file$"):
        load_settings({"DASHBOARD_APPS_FILE": str(tmp_path / "missing.toml")}, secrets_path=None)


def test_single_app_settings_stay_one_app(tmp_path: Path) -> None:
    env = {"HUBSPOT_CLIENT_ID": "legacy", "HUBSPOT_CLIENT_SECRET": "legacy-secret-1", "DASHBOARD_APP_ID": "main"}
    alone = load_settings(env, secrets_path=None)
    assert [a.id for a in alone.declared_apps()] == ["main"] and alone.default_app_id == "main"
    both = load_settings(env, secrets_path=write(tmp_path, TWO_APPS))
    assert [a.id for a in both.declared_apps()] == ["main", "production", "staging"]
    assert both.default_app_id == "main"


def test_nothing_configured_is_the_sandbox_app() -> None:
    s = load_settings({}, secrets_path=None)
    assert s.sandbox_mode and s.declared_apps() == () and s.default_app_id == "default"


def app(**keys: Any) -> dict[str, Any]:
    return {"client_id": "c1", "client_secret": "s-1234", "redirect_uri": REDIRECT, **keys}


@pytest.mark.parametrize(("tables", "env", "line"), [
    ({"staging": {"client_id": "c1", "redirect_uri": REDIRECT}}, {},
     r"^apps\.staging\.client_secret \(overrides\): required$"),
    ({"staging": app(client_secret="  ")}, {}, r"^apps\.staging\.client_secret \(overrides\): required \(HubSpot"),
    ({"staging": app(client_secret="changeme")}, {}, r"^apps\.staging\.client_secret \(overrides\): is a placeholder"),
    ({"a": app(), "b": app()}, {}, r"^apps\.b\.client_id: the same client id as app 'a'"),
    ({"a": app(redirect_uri="http://10.0.0.1/install")}, {},
     r"^apps\.a\.redirect_uri \(overrides\): HubSpot refuses IP"),
    ({"a": app(colour="red")}, {}, r"^apps\.a\.colour \(overrides\): unknown key"),
    ({"a": app(production="yes please")}, {}, r"^apps\.a\.production \(overrides\): "),
    ({"a b": app()}, {}, r"^apps\.'a b' \(overrides\): the app id must be"),
    ({"a": "not a table"}, {}, r"^apps\.a \(overrides\): must be a table"),
    ({"a": app()}, {"DASHBOARD_APP_ID": "nope"}, r"^DASHBOARD_APP_ID: names no declared app \(a\)$"),
    ({"main": app()}, {"HUBSPOT_CLIENT_ID": "x", "HUBSPOT_CLIENT_SECRET": "s-9", "DASHBOARD_APP_ID": "main"},
     r"^apps\.main: declared twice"),
    ({"a": app(client_id="x")}, {"HUBSPOT_CLIENT_ID": "x", "HUBSPOT_CLIENT_SECRET": "s-9"},
     r"^apps\.a\.client_id: the same client id as app 'default'"),
])
def test_bad_tables_are_one_line_naming_app_and_key(tables: dict[str, Any], env: dict[str, str], line: str) -> None:
    with pytest.raises(ConfigurationError, match=line) as caught:
        load_settings(env, secrets_path=None, app_tables=tables)
    assert "\n" not in str(caught.value) and "s-1234" not in str(caught.value)


def test_cli_refuses_bad_apps_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    apps = write(tmp_path, '[apps.staging]\nclient_id = "c"\nredirect_uri = "https://x.example.com/i"\n', "apps.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHBOARD_APPS_FILE", str(apps))
    monkeypatch.setenv("DASHBOARD_DATA_DIR", str(tmp_path / "data"))
    assert main(["connections"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: apps.staging.client_secret (") and err[0].endswith("required")
    assert not (tmp_path / "data").exists()


def test_registry_gives_each_app_its_client_and_host(tmp_path: Path) -> None:
    s = load_settings({}, secrets_path=write(tmp_path, TWO_APPS), dashboard_data_dir=tmp_path / "data",
                      dashboard_database_url=f"sqlite:///{tmp_path / 'd.db'}",
                      dashboard_encryption_keys=generate_key_entry("k1"))
    ctx = build_context(s)
    try:
        assert ctx.registry.ids == ["production", "staging"] and ctx.app_id == "production" and ctx.production
        staging = ctx.for_app("staging")
        assert staging is ctx.for_app("staging") and staging.app_id == "staging" and not staging.production
        assert staging.hubspot is not ctx.hubspot and staging.hubspot.app.client_id == "staging-client"
        assert staging.app.api_base_url == "https://staging-api.example.com"
        assert ctx.app.api_base_url == "https://api.hubapi.com" and ctx.app.client_id == "prod-client"
        assert staging.engine is ctx.engine and staging.unsaved is not ctx.unsaved
        assert [c.app_id for c in staging.each_app()] == ["production", "staging"]
        with staging.session() as session:
            assert session.info["app"] == "staging"
        with pytest.raises(UnknownAppError, match=r"^unknown app 'nope'; configured: production, staging$"):
            ctx.for_app("nope")
    finally:
        ctx.close()
