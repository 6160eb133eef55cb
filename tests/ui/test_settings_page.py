"""The Settings page shows configuration status, never a secret; a bad configuration is one clear line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.installs.flow import InstallResult
from dashboard.security.crypto import generate_key_entry
from tests.utils.pages import frame_with, messages, page_text

OpenPage = Callable[..., AppTest]
SETTINGS = "pages/settings.py"
CLIENT_ID = "3f6a1b2c-1111-2222-3333-444455556666"
CLIENT_SECRET = "0b1c2d3e-aaaa-bbbb-cccc-ddddeeeeffff"
WEBHOOK = "https://hooks.example.com/services/T000/B000/very-secret-path"


def values(at: AppTest) -> dict[str, str]:
    found: dict[str, str] = {}
    for frame in (d.value for d in at.dataframe if {"setting", "value"} <= set(d.value.columns)):
        found.update(zip(frame["setting"], frame["value"], strict=True))
    return found


def test_sandbox_mode_status_and_keys(open_page: OpenPage, seeded: dict[int, InstallResult]) -> None:
    at = open_page(SETTINGS)
    shown = values(at)
    assert shown["Client id"] == "5a4d…"
    assert shown["Client secret"] == "sandbox app (built in)"
    assert shown["Database backend"] == "sqlite" and shown["Refresh lock backend"] == "database"
    assert shown["OAuth API version"] == "2026-03"
    assert shown["Alert webhook"] == "not set"
    assert any("redirect URI follows HubSpot's rules" in m for m in messages(at, "success"))
    assert any("Sandbox mode is on" in m for m in messages(at, "info"))
    keys = frame_with(at, "key id", "role", "rows")
    assert keys.to_dict("records") == [{"key id": "test1", "role": "primary", "rows": 3}]
    assert "sqlite:///" not in page_text(at)  # the database URL is never printed


def test_real_app_settings_never_show_secrets(monkeypatch: pytest.MonkeyPatch, open_page: OpenPage) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("DASHBOARD_ALERT_WEBHOOK_URL", WEBHOOK)
    at = open_page(SETTINGS)
    shown = values(at)
    assert shown["Client id"] == "3f6a…" and shown["Client secret"] == "set"
    assert shown["Alert webhook"] == "set"
    assert any("Sandbox mode is off" in m for m in messages(at, "success"))
    assert not any("Sandbox mode:" in w for w in messages(at, "warning"))  # no banner outside the sandbox
    text = page_text(at)
    assert CLIENT_SECRET not in text and CLIENT_ID not in text and "very-secret-path" not in text
    keys = frame_with(at, "key id", "role", "rows")
    assert keys["key id"].tolist() == ["test1"]
    secret_part = str(at.session_state).lower()
    assert CLIENT_SECRET not in secret_part


def test_an_invalid_redirect_uri_cannot_start_and_says_why(monkeypatch: pytest.MonkeyPatch,
                                                          open_page: OpenPage) -> None:
    monkeypatch.setenv("HUBSPOT_REDIRECT_URI", "http://127.0.0.1:8501/install")
    at = open_page()
    assert not at.exception
    errors = messages(at, "error")
    assert errors and errors[0].startswith("The dashboard cannot start: HUBSPOT_REDIRECT_URI")


def test_a_redirect_uri_on_another_port_is_red_on_settings_and_new_install(
        monkeypatch: pytest.MonkeyPatch, open_page: OpenPage) -> None:
    """A real app whose HUBSPOT_REDIRECT_URI names port 8600 while this server answers on 8501 (AppTest's
    port): every install would end on "connection refused". Both pages say so, in red, and what to set."""
    monkeypatch.setenv("HUBSPOT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("HUBSPOT_REDIRECT_URI", "http://localhost:8600/install")
    for page in (SETTINGS, "pages/install.py"):
        at = open_page(page)
        errors = [m for m in messages(at, "error") if "answers on port 8501" in m]
        assert errors and "HUBSPOT_REDIRECT_URI=http://localhost:8501/install" in errors[0], page
        assert not any("redirect URI follows" in m for m in messages(at, "success")), page


def test_sandbox_mode_redirect_uri_follows_the_port(open_page: OpenPage) -> None:
    at = open_page(SETTINGS)
    assert "http://localhost:8501/install" in page_text(at)
    assert any("follows the port this dashboard listens on" in m for m in messages(at, "success"))


def test_a_bad_encryption_key_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, open_page: OpenPage) -> None:
    monkeypatch.setenv("DASHBOARD_ENCRYPTION_KEYS", generate_key_entry("k1")[:-6])
    at = open_page(SETTINGS)
    assert not at.exception
    errors = messages(at, "error")
    assert len(errors) == 1 and errors[0].startswith("The dashboard cannot start: ")
    assert "DASHBOARD_ENCRYPTION_KEYS" in errors[0]
