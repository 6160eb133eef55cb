"""Authorize URL building and parsing (dashboard/hubspot/authorize.py)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.errors import InputError, ScopeError
from dashboard.hubspot.authorize import (
    PARAM_ORDER,
    AuthorizeRequest,
    authorize_url_parts,
    build_authorize_url,
    parse_authorize_url,
)
from dashboard.scopes.catalog import load_catalog

BASE = "https://app.hubspot.com"
CLIENT = "5fc4a7b2-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
REDIRECT = "https://www.example.com/auth-callback"
ARGS = {"app_base_url": BASE, "client_id": CLIENT, "redirect_uri": REDIRECT, "scopes": ["oauth"]}

TOKEN_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\')
SCOPE = st.one_of(st.sampled_from(load_catalog().names()), st.text(TOKEN_CHARS, min_size=1, max_size=30))
TOKEN_SET = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
BAD_CHARS = st.characters(exclude_characters=TOKEN_SET)
BAD_SCOPE = st.one_of(st.just(""), st.builds(lambda a, bad, b: a + bad + b, st.text(TOKEN_CHARS, max_size=8),
                                             BAD_CHARS, st.text(TOKEN_CHARS, max_size=8)))


def build(**overrides: Any) -> str:
    return build_authorize_url(**{**ARGS, **overrides})


# --- building -------------------------------------------------------------------------------------

def test_matches_hubspot_documented_shape():
    url = build(scopes=["crm.objects.contacts.read", "oauth"], optional_scopes=["automation"], state="xyz")
    assert url == (
        "https://app.hubspot.com/oauth/authorize?client_id=5fc4a7b2-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
        "&redirect_uri=https%3A%2F%2Fwww.example.com%2Fauth-callback"
        "&scope=crm.objects.contacts.read%20oauth&optional_scope=automation&state=xyz"
    )


def test_matches_the_official_sdk_helper():
    oauth = pytest.importorskip("hubspot.utils.oauth")
    kwargs = {"scope": ("oauth", "crm.objects.deals.read"), "optional_scope": ("automation",),
              "state": "a b+c&d=e%f/é"}
    expected = oauth.get_auth_url(CLIENT, REDIRECT + "?x=1&y=2", **kwargs)
    assert build(redirect_uri=REDIRECT + "?x=1&y=2", scopes=kwargs["scope"],
                 optional_scopes=kwargs["optional_scope"], state=kwargs["state"]) == expected


def test_account_id_pins_the_install():
    assert build(account_id=123456).startswith("https://app.hubspot.com/oauth/123456/authorize?")


@pytest.mark.parametrize("base", ["https://app.hubspot.com/", "https://app.hubspot.com//"])
def test_trailing_slash_is_stripped(base):
    assert build(app_base_url=base).startswith("https://app.hubspot.com/oauth/authorize?")


def test_local_sandbox_base_with_a_path_prefix():
    url = build(app_base_url="http://127.0.0.1:8765/hs/")
    assert url.startswith("http://127.0.0.1:8765/hs/oauth/authorize?")
    assert parse_authorize_url(url).app_base_url == "http://127.0.0.1:8765/hs"


def test_optional_scope_and_state_omitted_when_absent_but_empty_state_kept():
    assert [name for name, _ in authorize_url_parts(build())] == ["client_id", "redirect_uri", "scope"]
    assert build(state="").endswith("&state=")


def test_empty_scope_list_is_refused():
    with pytest.raises(ScopeError, match="at least one scope"):
        build(scopes=[])


@pytest.mark.parametrize("field", ["scopes", "optional_scopes"])
def test_bare_string_scope_list_is_refused(field):
    with pytest.raises(ScopeError, match="list of scope names"):
        build(**{field: "oauth"})


@pytest.mark.parametrize("field", ["scopes", "optional_scopes"])
def test_malformed_scope_is_refused(field):
    with pytest.raises(ScopeError, match="'crm objects'"):
        build(**{field: ["oauth", "crm objects"]})


@pytest.mark.parametrize("account_id", [0, -5, True, "123", 1.5])
def test_bad_account_id_is_refused(account_id):
    with pytest.raises(InputError, match="account id"):
        build(account_id=account_id)


@pytest.mark.parametrize("base", ["", "app.hubspot.com", "ftp://app.hubspot.com", "https://", "https://a b",
                                  "https://app.hubspot.com?x=1", "https://app.hubspot.com#x",
                                  "https://app.hubspot.com/oauth/authorize", "https://[::1"])
def test_bad_app_base_url_is_refused(base):
    with pytest.raises(InputError, match="app base URL"):
        build(app_base_url=base)


@pytest.mark.parametrize("redirect", ["", "/callback", "example.com/cb", "https://x.com/a b", "https://x\n"])
def test_bad_redirect_uri_is_refused(redirect):
    with pytest.raises(InputError, match="redirect URI"):
        build(redirect_uri=redirect)


@pytest.mark.parametrize("client_id", ["", " abc", "abc\n", "a b", None])
def test_bad_client_id_is_refused(client_id):
    with pytest.raises(InputError, match="client id"):
        build(client_id=client_id)


@pytest.mark.parametrize("state", ["\ud800", 5, b"x"])
def test_state_that_is_not_utf8_text_is_refused(state):
    with pytest.raises(InputError, match="UTF-8"):
        build(state=state)


# --- parsing --------------------------------------------------------------------------------------

def test_parse_returns_the_inputs():
    url = build(scopes=["oauth", "crm.objects.contacts.read"], optional_scopes=["automation"], state="s t",
                account_id=42)
    assert parse_authorize_url(url) == AuthorizeRequest(BASE, CLIENT, REDIRECT,
                                                        ("oauth", "crm.objects.contacts.read"),
                                                        ("automation",), "s t", 42)


def test_parts_for_the_ui_table():
    url = build(optional_scopes=["automation"], state="a&b")
    assert authorize_url_parts(url) == [("client_id", CLIENT), ("redirect_uri", REDIRECT), ("scope", "oauth"),
                                        ("optional_scope", "automation"), ("state", "a&b")]


def test_plus_in_a_pasted_url_means_space():
    url = f"{BASE}/oauth/authorize?client_id=c&redirect_uri=https%3A%2F%2Fx.com&scope=oauth+automation"
    assert parse_authorize_url(url).scopes == ("oauth", "automation")


@pytest.mark.parametrize(("url", "message"), [
    ("https://app.hubspot.com/oauth/token?client_id=c", "path"),
    ("https://app.hubspot.com/oauth/0/authorize?client_id=c", "path"),
    ("https://app.hubspot.com/oauth/authorize/?client_id=c", "path"),
    ("mailto:someone@example.com", "absolute http"),
    ("not a url", "spaces"),
    (f"{BASE}/oauth/authorize?client_id=c&redirect_uri=https%3A%2F%2Fx.com", "lacks the scope"),
    ("https://app.hubspot.com/oauth/authorize?client_id=c&client_id=d", "repeats the client_id"),
    ("https://app.hubspot.com/oauth/authorize?response_type=code", "unknown parameter 'response_type'"),
    ("https://app.hubspot.com/oauth/authorize?client_id=%FF", "UTF-8"),
    ("https://app.hubspot.com/oauth/authorize?client_id=c#frag", "fragment"),
])
def test_parse_refuses_non_authorize_urls(url, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_authorize_url(url)


def test_parse_refuses_malformed_scope_with_scope_error():
    url = f"{BASE}/oauth/authorize?client_id=c&redirect_uri=https%3A%2F%2Fx.com&scope=oauth%20caf%C3%A9"
    with pytest.raises(ScopeError):
        parse_authorize_url(url)


def test_parse_errors_do_not_echo_the_state():
    url = f"{BASE}/oauth/authorize?client_id=c&redirect_uri=https%3A%2F%2Fx.com&scope=oauth&state=SECRET%0A"
    with pytest.raises(InputError) as info:
        parse_authorize_url(url + " trailing")
    assert "SECRET" not in str(info.value)


# --- properties -----------------------------------------------------------------------------------

@given(
    base=st.sampled_from([BASE, "https://app-eu1.hubspot.com", "http://localhost:8000", "http://127.0.0.1:9/x"]),
    client_id=st.uuids().map(str),
    redirect=st.sampled_from([REDIRECT, "http://localhost:8501/callback?next=/a+b&x=%20",
                              "https://example.com/cb/\u00e9t\u00e9"]),
    scopes=st.lists(SCOPE, min_size=1, max_size=6),
    optional=st.lists(SCOPE, max_size=4),
    state=st.one_of(st.none(), st.text(), st.sampled_from([" ", "&", "=", "+", "%", "%20", "a+b c&d=e%"])),
    account_id=st.one_of(st.none(), st.integers(min_value=1, max_value=2**63)),
)
def test_round_trip_is_exact(base, client_id, redirect, scopes, optional, state, account_id):
    url = build_authorize_url(app_base_url=base, client_id=client_id, redirect_uri=redirect, scopes=scopes,
                              optional_scopes=optional, state=state, account_id=account_id)
    assert "+" not in url
    assert " " not in url
    assert parse_authorize_url(url) == AuthorizeRequest(base, client_id, redirect, tuple(scopes),
                                                        tuple(optional), state, account_id)
    names = [piece.split("=")[0] for piece in urlsplit(url).query.split("&")]
    assert names == [name for name in PARAM_ORDER if name in names]
    assert dict(authorize_url_parts(url))["scope"] == " ".join(scopes)


@given(good=st.lists(SCOPE, max_size=3), bad=BAD_SCOPE, optional=st.booleans())
def test_any_malformed_scope_raises_only_scope_error(good, bad, optional):
    scopes, extra = ([*good, "oauth"], [bad]) if optional else ([*good, bad], [])
    with pytest.raises(ScopeError):
        build(scopes=scopes, optional_scopes=extra)
