"""HUBSPOT_REDIRECT_URI against where this server answers (issue 28: a changed port broke every install)."""

from __future__ import annotations

import pytest

from dashboard.installs.redirect_target import follow_server, local_redirect_uri, redirect_mismatch
from dashboard.settings import load_settings

REAL_APP = {"HUBSPOT_CLIENT_ID": "3f6a1b2c", "HUBSPOT_CLIENT_SECRET": "0b1c2d3e-aaaa-bbbb"}


def test_sandbox_mode_follows_the_server_port_when_no_redirect_uri_is_set() -> None:
    settings = follow_server(load_settings({}, secrets_path=None), port=8600)
    assert settings.hubspot_redirect_uri == "http://localhost:8600/install" == local_redirect_uri(8600)


@pytest.mark.parametrize("env", [
    {"HUBSPOT_REDIRECT_URI": "http://localhost:8501/install"},  # set: the operator's choice, checked instead
    REAL_APP,  # a real app's redirect URI is registered at HubSpot: never changed behind its back
])
def test_a_set_redirect_uri_or_a_real_app_is_left_as_configured(env: dict[str, str]) -> None:
    before = load_settings(env, secrets_path=None)
    assert follow_server(before, port=8600).hubspot_redirect_uri == before.hubspot_redirect_uri
    assert follow_server(before, port=None) is before


@pytest.mark.parametrize(("uri", "address", "port", "says"), [
    ("http://localhost:8501/install", "127.0.0.1", 8600, "answers on port 8600"),
    ("http://localhost/install", "127.0.0.1", 8600, "sends the browser to port 80"),
    ("http://localhost:8600/install", "10.1.2.3", 8600, "listens on 10.1.2.3 only"),
    ("http://localhost:8600/oauth/back", "127.0.0.1", 8600, "must end in /install"),
])
def test_a_redirect_that_would_not_come_back_here_says_what_to_set(uri: str, address: str, port: int,
                                                                   says: str) -> None:
    problem = redirect_mismatch(uri, address=address, port=port)
    assert problem is not None and says in problem
    assert "HUBSPOT_REDIRECT_URI" in problem or "server.address" in problem


@pytest.mark.parametrize(("uri", "address"), [
    ("http://localhost:8600/install", "127.0.0.1"), ("http://localhost:8600/install/", "localhost"),
    ("http://localhost:8600/install", ""), ("http://localhost:8600/install", "0.0.0.0"),
    ("https://dash.example.com/install", "127.0.0.1"),  # a public name: a proxy may forward it, no false alarm
])
def test_a_redirect_that_reaches_this_server_is_fine(uri: str, address: str) -> None:
    assert redirect_mismatch(uri, address=address, port=8600) is None
