"""Settings rules (issue #2): defaults, one-line refusals that name the setting, secrets never shown."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from dashboard.context import build_context
from dashboard.errors import ConfigurationError, InvalidClientError
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import PLACEHOLDER_SECRETS, Settings, load_settings

SECRET = "s3cr3t-Zq9wXv-distinctive-7781"
CREDS = {"HUBSPOT_CLIENT_ID": "client-id-123", "HUBSPOT_CLIENT_SECRET": SECRET}


def load(env: dict[str, str], **overrides: Any) -> Settings:
    return load_settings(env, secrets_path=None, **overrides)


def refusal(env: dict[str, str]) -> str:
    """The ConfigurationError text for ``env``; checks it is one line that never shows the secret."""
    with pytest.raises(ConfigurationError) as info:
        load(env)
    text = str(info.value)
    assert "\n" not in text
    assert SECRET not in text
    assert SECRET not in "".join(traceback.format_exception(info.value))
    return text


# --- defaults ------------------------------------------------------------------------------------------

def test_defaults_are_sandbox_mode_new_oauth_api_and_sqlite_under_data() -> None:
    s = load({})
    assert s.sandbox_mode
    assert s.hubspot_client_id is None
    assert s.hubspot_oauth_api == "2026-03"
    assert s.database_backend == "sqlite"
    database = make_url(s.dashboard_database_url).database
    assert database is not None
    assert Path(database).parent == Path("data")
    assert s.hubspot_redirect_uri == "http://localhost:8501/install"
    assert s.dashboard_lock_url is None
    assert s.dashboard_refresh_leeway_seconds == 300


def test_a_client_id_with_a_real_secret_leaves_sandbox_mode() -> None:
    s = load(CREDS)
    assert not s.sandbox_mode
    assert s.hubspot_client_secret is not None
    assert s.hubspot_client_secret.get_secret_value() == SECRET


def test_blank_values_count_as_unset() -> None:
    s = load({"HUBSPOT_CLIENT_ID": "   ", "HUBSPOT_OAUTH_API": "", "DASHBOARD_LOCK_URL": ""})
    assert s.sandbox_mode
    assert s.hubspot_oauth_api == "2026-03"
    assert s.dashboard_lock_url is None


# --- redirect URI --------------------------------------------------------------------------------------

@pytest.mark.parametrize("uri", [
    "https://dashboard.example.com/install",
    "https://dashboard.example.com:8443/oauth/callback?x=1",
    "http://localhost:8501/install",
    "http://LOCALHOST:8501/install",
    "https://localhost/install",
])
def test_redirect_uri_accepted(uri: str) -> None:
    assert load({"HUBSPOT_REDIRECT_URI": uri}).hubspot_redirect_uri == uri


@pytest.mark.parametrize(("uri", "hint"), [
    ("http://dashboard.example.com/install", "plain http is allowed only with host localhost"),
    ("http://localhost.example.com/install", "must use https"),
    ("http://127.0.0.1:8501/install", "IP-address"),
    ("https://10.1.2.3/install", "IP-address"),
    ("https://127.1/install", "IP-address"),  # browsers read these as IPv4 too
    ("https://2130706433/install", "IP-address"),
    ("https://0x7f.0.0.1/install", "IP-address"),
    ("http://[::1]:8501/install", "IP-address"),
    ("https://[2001:db8::1]/install", "IP-address"),
    ("localhost:8501/install", "must be an absolute http(s) URL"),
    ("/install", "must be an absolute http(s) URL"),
    ("ftp://localhost/install", "must be an absolute http(s) URL"),
    ("https://", "must be an absolute http(s) URL"),
    ("http://[::1/install", "must be an absolute http(s) URL"),
    ("https://dashboard.example.com:99999/install", "must be an absolute http(s) URL"),
    ("https://dashboard.example.com/install#done", "#fragment"),
])
def test_redirect_uri_refused(uri: str, hint: str) -> None:
    text = refusal({**CREDS, "HUBSPOT_REDIRECT_URI": uri})
    assert text.startswith("HUBSPOT_REDIRECT_URI: ")
    assert hint in text


def test_ip_refusal_says_what_to_use_instead() -> None:
    text = refusal({"HUBSPOT_REDIRECT_URI": "http://127.0.0.1:8501/install"})
    assert "use a domain name, e.g. localhost" in text


# --- OAuth API, database, lock, leeway -----------------------------------------------------------------

@pytest.mark.parametrize("api", ["2026-03", "v3", "v1"])
def test_oauth_api_accepted(api: str) -> None:
    assert load({"HUBSPOT_OAUTH_API": api}).hubspot_oauth_api == api


@pytest.mark.parametrize("api", ["v9", "V3", "v2", "2025-01", "latest"])
def test_unknown_oauth_api_refused(api: str) -> None:
    assert refusal({"HUBSPOT_OAUTH_API": api}) == (
        "HUBSPOT_OAUTH_API: must be one of 2026-03 (default), v3 or v1"
    )


@pytest.mark.parametrize("url", [
    "sqlite:///data/other.db", "sqlite:////var/lib/dashboard/dashboard.db", "sqlite://",
    "postgresql+psycopg://dash@db.internal:5432/dashboard", "postgresql://dash@db.internal/dashboard",
])
def test_database_url_accepted(url: str) -> None:
    assert load({"DASHBOARD_DATABASE_URL": url}).dashboard_database_url == url


@pytest.mark.parametrize("url", [
    "mysql://dash:hunter2pw@db/dashboard",
    "data/dashboard.db",
    "not a url",
    "sqlitefoo:///x.db",
    "postgresql+nosuchdriver://dash:hunter2pw@db/dashboard",
    "postgresql://dash:hunter2pw@db:notaport/dashboard",
])
def test_unusable_database_url_refused(url: str) -> None:
    text = refusal({"DASHBOARD_DATABASE_URL": url})
    assert text.startswith("DASHBOARD_DATABASE_URL: must be a SQLAlchemy URL such as sqlite:///")
    assert "hunter2pw" not in text


def test_database_password_is_not_in_repr() -> None:
    s = load({"DASHBOARD_DATABASE_URL": "postgresql+psycopg://dash:hunter2pw@db/dashboard"})
    assert "hunter2pw" not in repr(s)
    assert "hunter2pw" not in str(s)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.example.com:6380/1"])
def test_lock_url_accepted(url: str) -> None:
    lock = load({"DASHBOARD_LOCK_URL": url}).dashboard_lock_url
    assert lock is not None
    assert lock.get_secret_value() == url


@pytest.mark.parametrize("url", [
    "http://:lockpw99@cache.example.com:6379", "127.0.0.1:6379", "memcached://cache:11211", "postgresql://x/y",
])
def test_lock_url_must_be_redis(url: str) -> None:
    text = refusal({"DASHBOARD_LOCK_URL": url})
    assert text == (
        "DASHBOARD_LOCK_URL: must be a redis:// or rediss:// URL, or unset to use database leases"
    )
    assert "lockpw99" not in text


@pytest.mark.parametrize("seconds", ["0", "60", "86400"])
def test_refresh_leeway_accepted(seconds: str) -> None:
    s = load({"DASHBOARD_REFRESH_LEEWAY_SECONDS": seconds})
    assert s.dashboard_refresh_leeway_seconds == int(seconds)


@pytest.mark.parametrize(("seconds", "hint"), [
    ("-1", "greater than or equal to 0"),
    ("86401", "less than or equal to 86400"),
    ("soon", "valid integer"),
    ("1.5", "valid integer"),
])
def test_refresh_leeway_range(seconds: str, hint: str) -> None:
    text = refusal({"DASHBOARD_REFRESH_LEEWAY_SECONDS": seconds})
    assert text.startswith("DASHBOARD_REFRESH_LEEWAY_SECONDS: ")
    assert hint in text


# --- credentials ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("secret", [None, "", "   "])
def test_client_id_without_secret_refused(secret: str | None) -> None:
    env = {"HUBSPOT_CLIENT_ID": "client-id-123"}
    if secret is not None:
        env["HUBSPOT_CLIENT_SECRET"] = secret
    text = refusal(env)
    assert text.startswith("HUBSPOT_CLIENT_SECRET: required when HUBSPOT_CLIENT_ID is set")
    assert "Client secret" in text  # where to find it


@pytest.mark.parametrize("secret", [*sorted(PLACEHOLDER_SECRETS), "ChangeThis", " changeme "])
def test_placeholder_secret_refused(secret: str) -> None:
    text = refusal({"HUBSPOT_CLIENT_ID": "client-id-123", "HUBSPOT_CLIENT_SECRET": secret})
    assert text == "HUBSPOT_CLIENT_SECRET: is a placeholder; paste the real client secret"


def test_placeholder_secret_is_harmless_in_sandbox_mode() -> None:
    assert load({"HUBSPOT_CLIENT_SECRET": "changethis"}).sandbox_mode


# --- sources -------------------------------------------------------------------------------------------

SECRETS_TOML = """
HUBSPOT_CLIENT_ID = "id-from-toml"
HUBSPOT_CLIENT_SECRET = "toml-secret-4471"
HUBSPOT_OAUTH_API = "v3"
dashboard_refresh_leeway_seconds = 120

[auth]
hubspot_client_id = "id-from-auth-table"
HUBSPOT_OAUTH_API = "v1"
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "streamlit-cookie-secret"
"""


@pytest.fixture
def secrets_toml(tmp_path: Path) -> Path:
    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    path.write_text(SECRETS_TOML, encoding="utf-8")
    return path


def test_secrets_toml_is_read(secrets_toml: Path) -> None:
    s = load_settings({}, secrets_path=secrets_toml)
    assert s.hubspot_client_id == "id-from-toml"
    assert s.hubspot_oauth_api == "v3"
    assert s.dashboard_refresh_leeway_seconds == 120


def test_environment_wins_over_secrets_toml(secrets_toml: Path) -> None:
    env = {"HUBSPOT_OAUTH_API": "v1", "HUBSPOT_CLIENT_ID": "id-from-env"}
    s = load_settings(env, secrets_path=secrets_toml)
    assert s.hubspot_oauth_api == "v1"
    assert s.hubspot_client_id == "id-from-env"
    assert s.hubspot_client_secret is not None
    assert s.hubspot_client_secret.get_secret_value() == "toml-secret-4471"  # not overridden: kept


def test_auth_table_in_secrets_toml_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text('[auth]\nHUBSPOT_CLIENT_ID = "id-from-auth"\nHUBSPOT_OAUTH_API = "v9"\n',
                    encoding="utf-8")
    s = load_settings({}, secrets_path=path)
    assert s.sandbox_mode
    assert s.hubspot_oauth_api == "2026-03"


def test_missing_secrets_toml_means_defaults(tmp_path: Path) -> None:
    assert load_settings({}, secrets_path=tmp_path / "absent.toml").sandbox_mode


def test_broken_secrets_toml_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(f'HUBSPOT_CLIENT_SECRET = "{SECRET}\n', encoding="utf-8")  # unterminated string
    with pytest.raises(ConfigurationError) as info:
        load_settings({}, secrets_path=path)
    text = str(info.value)
    assert text.startswith(f"{path}: cannot be read as TOML")
    assert "\n" not in text
    assert SECRET not in text


# --- the client secret is never shown ------------------------------------------------------------------

def test_secret_not_in_repr_or_str() -> None:
    s = load({**CREDS, "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("k1")})
    for text in (repr(s), str(s), s.model_dump_json()):
        assert SECRET not in text
    assert "client-id-123" in repr(s)  # repr still useful


@pytest.mark.parametrize("bad", [
    {"HUBSPOT_REDIRECT_URI": "http://example.com/install"},
    {"HUBSPOT_OAUTH_API": "v9"},
    {"DASHBOARD_DATABASE_URL": "mysql://x/y"},
    {"DASHBOARD_REFRESH_LEEWAY_SECONDS": "-5"},
    {"DASHBOARD_LOCK_URL": "http://x"},
])
def test_secret_not_in_errors_about_other_settings(bad: dict[str, str]) -> None:
    refusal({**CREDS, **bad})  # refusal() asserts the secret is absent from text and traceback


def test_secret_not_in_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Through settings, the composition root and HubSpot calls at DEBUG: the secret is sent, never logged."""
    sent: list[bytes] = []

    def hubspot(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        if b"grant_type=authorization_code" in request.content:
            return httpx.Response(400, json={"status": "BAD_CLIENT_ID", "error": "invalid_client",
                                             "message": "client secret is wrong"})
        return httpx.Response(200, json={"access_token": "at-1", "refresh_token": "rt-1",
                                         "expires_in": 1800, "token_type": "bearer"})

    caplog.set_level(logging.DEBUG)
    env = {**CREDS, "DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
           "DASHBOARD_DATA_DIR": str(tmp_path), "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("k1")}
    settings = load(env)
    logging.getLogger("test").debug("settings: %r", settings)
    with pytest.raises(ConfigurationError):
        load({**env, "HUBSPOT_OAUTH_API": "v9"})
    ctx = build_context(settings, transport=httpx.MockTransport(hubspot))
    try:
        ctx.hubspot.refresh("rt-0")
        with pytest.raises(InvalidClientError) as info:
            ctx.hubspot.exchange_code("code-1")
        assert SECRET not in str(info.value)
    finally:
        ctx.close()
    assert any(SECRET.encode() in body for body in sent)  # the value really was in play
    assert caplog.records
    assert SECRET not in caplog.text
    assert all(SECRET not in json.dumps(r.__dict__, default=str) for r in caplog.records)


# --- property: arbitrary text is a ConfigurationError or a success ------------------------------------

FIELDS = ["HUBSPOT_REDIRECT_URI", "HUBSPOT_OAUTH_API", "DASHBOARD_DATABASE_URL"]


def refusal_or_none(env: dict[str, str]) -> str | None:
    """The one-line refusal, or None when ``env`` is accepted; any other exception fails the test."""
    try:
        load(env)
    except ConfigurationError as exc:
        return str(exc)
    return None


@hypothesis_settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS), value=st.text(max_size=80))
def test_arbitrary_text_only_ever_raises_configuration_error(field: str, value: str) -> None:
    text = refusal_or_none({**CREDS, field: value})
    if text is not None:
        assert text.startswith(f"{field}: ")
        assert "\n" not in text
        assert SECRET not in text


@hypothesis_settings(max_examples=200, deadline=None)
@given(value=st.from_regex(r"\A(https?|ftp)://[\w.\[\]:%@-]{0,30}(:\d{0,6})?(/[\w#?=&]*)?\Z"))
def test_url_shaped_redirect_uris_only_raise_configuration_error(value: str) -> None:
    text = refusal_or_none({"HUBSPOT_REDIRECT_URI": value})
    assert text is None or text.startswith("HUBSPOT_REDIRECT_URI: ")


def test_the_embedded_sandbox_access_token_ttl_is_a_setting() -> None:
    """DASHBOARD_SANDBOX_ACCESS_TOKEN_TTL (issue 28): HubSpot's 1800 s by default, bounded, one clear line."""
    from dashboard.settings import load_settings as load

    assert load({}, secrets_path=None).dashboard_sandbox_access_token_ttl == 1800
    short = load({"DASHBOARD_SANDBOX_ACCESS_TOKEN_TTL": "120"}, secrets_path=None)
    assert short.dashboard_sandbox_access_token_ttl == 120
    with pytest.raises(ConfigurationError, match="DASHBOARD_SANDBOX_ACCESS_TOKEN_TTL"):
        load({"DASHBOARD_SANDBOX_ACCESS_TOKEN_TTL": "0"}, secrets_path=None)
