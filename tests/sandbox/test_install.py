"""The install flow: consent page, its form, the consent control, and every rule that blocks an install."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import httpx
import pytest

from dashboard.sandbox import DEFAULT_REDIRECT_URI, SANDBOX_CLIENT_ID, SandboxServer
from tests.utils.sandbox_oauth import ENTERPRISE_HUB, FREE_HUB, PRO_HUB, authorize_url, consent, exchange, query_of


class FormReader(HTMLParser):
    """Reads the consent form the way a browser would: action, select options, submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.ids: set[str] = set()
        self.options: list[str] = []
        self.buttons: dict[str, tuple[str, str]] = {}
        self.scopes: list[str] = []
        self.select_name = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "form":
            self.action = a["action"]
        elif tag == "select":
            self.select_name = a["name"]
        elif tag == "option":
            self.options.append(a["value"])
        elif tag == "button":
            self.buttons[a["id"]] = (a["name"], a["value"])
        elif tag == "li" and "data-scope" in a:
            self.scopes.append(a["data-scope"])


def read_form(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    return reader


def submit(http: httpx.Client, page: FormReader, button: str, account: str | None = None) -> httpx.Response:
    """Post the consent form like a browser: the select's value plus the clicked button's name=value."""
    name, value = page.buttons[button]
    form = {page.select_name: account or page.options[0], name: value}
    return http.post(page.action, data=form, follow_redirects=False)


def test_consent_page_renders_app_scopes_and_stable_ids(http: httpx.Client, sb: SandboxServer) -> None:
    url = authorize_url(sb.url, scope="oauth crm.objects.contacts.read", optional_scope="automation")
    resp = http.get(url)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = read_form(resp.text)
    assert {"account", "grant", "cancel", "scopes", "app-name"} <= page.ids
    assert page.options == [str(FREE_HUB), str(PRO_HUB), str(ENTERPRISE_HUB)]
    assert sorted(page.scopes) == ["automation", "crm.objects.contacts.read", "oauth"]
    assert "HubSpot OAuth Dashboard (sandbox)" in resp.text
    assert "View properties and other details about contacts." in resp.text
    assert 'data-scope="automation" data-optional="true"' in resp.text
    assert 'data-group="CRM"' in resp.text


def test_consent_form_grant_redirects_with_code_and_state(http: httpx.Client, sb: SandboxServer) -> None:
    page = read_form(http.get(authorize_url(sb.url, state="st-123")).text)
    resp = submit(http, page, "grant", account=str(PRO_HUB))
    assert resp.status_code == 302
    location = resp.headers["location"]
    assert location.startswith(DEFAULT_REDIRECT_URI + "?")
    params = query_of(location)
    assert params["state"] == "st-123"
    token = exchange(http, params["code"]).json()
    assert token["hub_id"] == PRO_HUB


def test_consent_form_cancel_redirects_with_access_denied(http: httpx.Client, sb: SandboxServer) -> None:
    page = read_form(http.get(authorize_url(sb.url, state="s1")).text)
    resp = submit(http, page, "cancel")
    assert resp.status_code == 302
    params = query_of(resp.headers["location"])
    assert params["error"] == "access_denied"
    assert params["error_description"]
    assert params["state"] == "s1"
    assert "code" not in params


def test_no_state_no_state_param(http: httpx.Client, sb: SandboxServer) -> None:
    resp = consent(http, authorize_url(sb.url))
    assert "state" not in query_of(resp.json()["redirect_url"])


def test_deny_through_the_control(http: httpx.Client, sb: SandboxServer) -> None:
    resp = consent(http, authorize_url(sb.url), decision="deny")
    assert query_of(resp.json()["redirect_url"])["error"] == "access_denied"
    assert http.get("/_sandbox/stats").json()["consent"] == {"grant": 0, "deny": 1}


def test_account_specific_url_pins_the_account(http: httpx.Client, sb: SandboxServer) -> None:
    page = read_form(http.get(authorize_url(sb.url, account=ENTERPRISE_HUB)).text)
    assert page.options == [str(ENTERPRISE_HUB)]
    resp = consent(http, authorize_url(sb.url, account=ENTERPRISE_HUB))
    code = query_of(resp.json()["redirect_url"])["code"]
    assert exchange(http, code).json()["hub_id"] == ENTERPRISE_HUB
    clash = consent(http, authorize_url(sb.url, account=ENTERPRISE_HUB), account_id=FREE_HUB)
    assert clash.status_code == 400
    assert clash.json()["error"] == "account_mismatch"


def test_consent_control_defaults_to_first_account(http: httpx.Client, sb: SandboxServer) -> None:
    code = query_of(consent(http, authorize_url(sb.url)).json()["redirect_url"])["code"]
    assert exchange(http, code).json()["hub_id"] == FREE_HUB


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        ({"client_id": "nope"}, "bad_client_id", "nope"),
        (
            {"redirect_uri": "http://localhost:8501/install/"},
            "redirect_mismatch",
            "Authorization failed as the redirect URL 'http://localhost:8501/install/' doesn't match "
            "the app's registered redirect URL",
        ),
        ({"redirect_uri": "http://localhost:8502/install"}, "redirect_mismatch", "8502"),
        ({"redirect_uri": "http://LOCALHOST:8501/install"}, "redirect_mismatch", "LOCALHOST"),
        ({"scope": ""}, "missing_scope", "no scope"),
        ({"scope": "oauth not.a.scope"}, "unknown_scope", "not.a.scope"),
        ({"scope": "crm.objects.contacts.read"}, "scope_mismatch", "oauth"),
    ],
)
def test_install_errors_show_hubspots_page_and_never_redirect(
    http: httpx.Client, sb: SandboxServer, params: dict[str, str], code: str, text: str
) -> None:
    url = authorize_url(sb.url, **params)
    page = http.get(url, follow_redirects=False)
    assert page.status_code == 400
    assert "location" not in page.headers
    assert f'data-error-code="{code}"' in page.text
    assert text.replace("'", "&#x27;") in page.text
    control = consent(http, url)
    assert control.status_code == 400
    assert control.json()["error"] == code
    assert text in control.json()["message"]


def test_form_post_validates_like_the_page(http: httpx.Client, sb: SandboxServer) -> None:
    bad = authorize_url(sb.url, redirect_uri="https://evil.example/cb")
    resp = http.post(bad, data={"decision": "grant"}, follow_redirects=False)
    assert resp.status_code == 400
    assert "location" not in resp.headers


def test_everything_echoed_is_escaped(http: httpx.Client, sb: SandboxServer) -> None:
    evil = "<script>alert(1)</script>"
    resp = http.get(authorize_url(sb.url, client_id=evil))
    assert resp.status_code == 400
    assert "<script>" not in resp.text
    assert "&lt;script&gt;" in resp.text
    ok = http.get(authorize_url(sb.url, state='"><img src=x>'))
    assert "<img src=x>" not in ok.text


def test_unknown_account_in_path(http: httpx.Client, sb: SandboxServer) -> None:
    resp = http.get(authorize_url(sb.url, account=42))
    assert resp.status_code == 400
    assert 'data-error-code="unknown_account"' in resp.text


# --- strict app scope settings (CL-SCOPES) ------------------------------------------------------------

STRICT = {
    "required": ["oauth", "crm.objects.contacts.read"],
    "conditionally_required": ["crm.objects.companies.read"],
    "optional": ["automation", "crm.objects.deals.read"],
}


@pytest.fixture
def strict(http: httpx.Client) -> httpx.Client:
    assert http.post("/_sandbox/config", json={"app_scopes": STRICT}).status_code == 200
    return http


@pytest.mark.parametrize(
    ("scope", "optional", "problem"),
    [
        ("oauth", "", "required scope(s) missing from scope: crm.objects.contacts.read"),
        ("oauth crm.objects.contacts.read automation", "", "optional scope(s) sent in scope"),
        ("oauth crm.objects.contacts.read", "crm.objects.companies.read", "sent in optional_scope instead"),
        ("oauth crm.objects.contacts.read tickets", "", "not in the app's settings: tickets"),
        ("oauth crm.objects.contacts.read", "tickets", "not in the app's settings: tickets"),
    ],
)
def test_strict_scope_mismatch_blocks_install(
    strict: httpx.Client, sb: SandboxServer, scope: str, optional: str, problem: str
) -> None:
    params = {"scope": scope} | ({"optional_scope": optional} if optional else {})
    resp = consent(strict, authorize_url(sb.url, **params))
    assert resp.status_code == 400
    assert resp.json()["error"] == "scope_mismatch"
    assert problem in resp.json()["message"]
    assert strict.get(authorize_url(sb.url, **params)).status_code == 400


def test_strict_scopes_accepted_when_they_match(strict: httpx.Client, sb: SandboxServer) -> None:
    url = authorize_url(
        sb.url,
        scope="oauth crm.objects.contacts.read crm.objects.companies.read",
        optional_scope="crm.objects.deals.read",
    )
    code = query_of(consent(strict, url).json()["redirect_url"])["code"]
    assert exchange(strict, code).json()["scopes"] == [
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.companies.read",
        "crm.objects.deals.read",
    ]


def test_invalid_app_scopes_are_refused(http: httpx.Client) -> None:
    resp = http.post("/_sandbox/config", json={"app_scopes": {"required": ["oauth", "made.up"]}})
    assert resp.status_code == 400
    assert "made.up" in resp.json()["message"]


# --- tiers -----------------------------------------------------------------------------------------------


def test_optional_scope_above_the_tier_is_dropped(http: httpx.Client, sb: SandboxServer) -> None:
    url = authorize_url(sb.url, optional_scope="automation crm.objects.deals.read")
    free = query_of(consent(http, url, account_id=FREE_HUB).json()["redirect_url"])["code"]
    pro = query_of(consent(http, url, account_id=PRO_HUB).json()["redirect_url"])["code"]
    assert exchange(http, free).json()["scopes"] == [
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.deals.read",
    ]
    assert "automation" in exchange(http, pro).json()["scopes"]


def test_required_scope_above_the_tier_blocks_install(http: httpx.Client, sb: SandboxServer) -> None:
    url = authorize_url(sb.url, scope="oauth automation")
    resp = consent(http, url, account_id=FREE_HUB)
    assert resp.status_code == 400
    assert resp.json()["error"] == "tier_blocked"
    assert "automation" in resp.json()["message"]
    assert "Marketing Hub Professional or Enterprise" in resp.json()["message"]
    assert consent(http, url, account_id=PRO_HUB).status_code == 200
    pinned = http.get(authorize_url(sb.url, account=FREE_HUB, scope="oauth automation"))
    assert pinned.status_code == 400
    assert 'data-error-code="tier_blocked"' in pinned.text
    page = read_form(http.get(url).text)  # the generic page lets the user pick; the grant then fails
    blocked = submit(http, page, "grant", account=str(FREE_HUB))
    assert blocked.status_code == 400
    assert "location" not in blocked.headers


def test_sensitive_scopes_need_enterprise(http: httpx.Client, sb: SandboxServer) -> None:
    url = authorize_url(sb.url, scope="oauth crm.objects.contacts.sensitive.read.v2")
    assert consent(http, url, account_id=PRO_HUB).json()["error"] == "tier_blocked"
    assert consent(http, url, account_id=ENTERPRISE_HUB).status_code == 200
    optional = authorize_url(sb.url, optional_scope="crm.objects.contacts.sensitive.read.v2")
    code = query_of(consent(http, optional, account_id=PRO_HUB).json()["redirect_url"])["code"]
    assert "crm.objects.contacts.sensitive.read.v2" not in exchange(http, code).json()["scopes"]


def test_registered_redirect_uris_are_matched_exactly(make_sandbox: Callable[..., SandboxServer]) -> None:
    uris = ["https://dash.example.com/install", "http://localhost:9000/cb?x=1"]
    sandbox = make_sandbox(redirect_uris=uris)
    with httpx.Client(base_url=sandbox.url) as client:
        for uri in uris:
            resp = consent(client, authorize_url(sandbox.url, redirect_uri=uri, state="s"))
            assert resp.status_code == 200, resp.text
            assert resp.json()["redirect_url"].startswith(uri + ("&" if "?" in uri else "?"))
        for near in [
            "https://dash.example.com/install/",
            "https://dash.example.com/Install",
            DEFAULT_REDIRECT_URI,
        ]:
            assert (
                consent(client, authorize_url(sandbox.url, redirect_uri=near)).json()["error"]
                == "redirect_mismatch"
            )


def test_consent_control_rejects_non_authorize_urls(http: httpx.Client, sb: SandboxServer) -> None:
    resp = http.post(
        "/_sandbox/consent", json={"authorize_url": f"{sb.url}/oauth/v1/token?client_id={SANDBOX_CLIENT_ID}"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "bad_authorize_url"
    assert http.post("/_sandbox/consent", json={}).status_code == 400
    bad = http.post("/_sandbox/consent", json={"authorize_url": authorize_url(sb.url), "decision": "maybe"})
    assert bad.json()["error"] == "bad_decision"
