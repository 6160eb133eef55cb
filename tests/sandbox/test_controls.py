"""The ``/_sandbox/`` controls: accounts, tokens, stats, issue, config, clock, reset, info."""

from __future__ import annotations

import httpx

from dashboard.sandbox import DEFAULT_REDIRECT_URI, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SandboxServer
from tests.utils.sandbox_oauth import (
    ENTERPRISE_HUB,
    FREE_HUB,
    PRO_HUB,
    authorize_url,
    consent,
    install,
    issue,
    query_of,
    refresh,
)


def test_default_accounts(http: httpx.Client) -> None:
    accounts = http.get("/_sandbox/accounts").json()["accounts"]
    assert [(a["hub_id"], a["domain"], a["tier"]) for a in accounts] == [
        (FREE_HUB, "acme-corp.hubspot.com", "free"),
        (PRO_HUB, "globex.hubspot.com", "marketing-professional"),
        (ENTERPRISE_HUB, "initech.hubspot.com", "enterprise"),
    ]


def test_add_accounts_one_or_many(http: httpx.Client, sb: SandboxServer) -> None:
    one = http.post(
        "/_sandbox/accounts", json={"hub_id": 555, "domain": "five.hubspot.com", "tier": "sales-starter"}
    )
    assert one.status_code == 201
    assert one.json()["accounts"][0]["tier"] == "sales-starter"
    many = http.post("/_sandbox/accounts", json={"count": 3, "tier": "enterprise"}).json()["accounts"]
    assert [a["hub_id"] for a in many] == [ENTERPRISE_HUB + 1, ENTERPRISE_HUB + 2, ENTERPRISE_HUB + 3]
    assert all(a["domain"] == f"portal-{a['hub_id']}.hubspot.com" for a in many)
    assert len(http.get("/_sandbox/accounts").json()["accounts"]) == 7
    assert http.post("/_sandbox/accounts", json={"hub_id": 555}).status_code == 409
    assert http.post("/_sandbox/accounts", json={"hub_id": 556, "tier": "platinum"}).status_code == 400
    assert http.post("/_sandbox/accounts", json={"count": 0}).status_code == 400
    assert http.post("/_sandbox/accounts", json={}).status_code == 400
    assert http.post("/_sandbox/accounts", content=b"not json").status_code == 400
    # New accounts can install right away, and reset brings back only the configured ones.
    code = query_of(consent(http, authorize_url(sb.url), account_id=555).json()["redirect_url"])["code"]
    assert code
    http.post("/_sandbox/reset")
    assert len(http.get("/_sandbox/accounts").json()["accounts"]) == 3


def test_tokens_lists_every_issued_token(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"rotate_refresh_tokens": True}).raise_for_status()
    first = install(http)
    second = refresh(http, first["refresh_token"]).json()
    issue(http, PRO_HUB)
    tokens = http.get("/_sandbox/tokens").json()["tokens"]
    assert len(tokens) == 6
    mine = http.get("/_sandbox/tokens", params={"hub_id": FREE_HUB}).json()["tokens"]
    by_token = {t["token"]: t for t in mine}
    rotated = by_token[first["refresh_token"]]
    assert (rotated["hub_id"], rotated["kind"], rotated["active"]) == (FREE_HUB, "refresh", False)
    assert by_token[second["refresh_token"]]["active"] is True
    assert by_token[first["access_token"]]["kind"] == "access"
    assert by_token[first["access_token"]]["active"] is True
    assert http.get("/_sandbox/tokens", params={"hub_id": "x"}).status_code == 400


def test_stats_count_what_clients_did(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"rotate_refresh_tokens": True}).raise_for_status()
    token = install(http)
    refresh(http, token["refresh_token"])
    refresh(http, token["refresh_token"])  # rotated away: invalid_grant
    issue(http, PRO_HUB)
    stats = http.get("/_sandbox/stats").json()
    assert stats["token_requests"] == {"authorization_code": 1, "refresh_token": 2}
    assert stats["errors"] == {"invalid_grant": 1}
    assert stats["refresh_by_hub"] == {str(FREE_HUB): 1}
    assert stats["issued"] == 1
    assert {"introspect", "revoke", "api"} <= set(stats)


def test_issue_returns_a_token_response(http: httpx.Client) -> None:
    body = issue(http, ENTERPRISE_HUB, ["oauth", "crm.objects.contacts.read"])
    assert body["hub_id"] == ENTERPRISE_HUB
    assert body["scopes"] == ["oauth", "crm.objects.contacts.read"]
    assert body["token_use"] == "access_token"
    assert refresh(http, body["refresh_token"]).status_code == 200
    assert http.post("/_sandbox/issue", json={"hub_id": 9}).status_code == 404
    assert http.post("/_sandbox/issue", json={"hub_id": FREE_HUB, "scopes": ["nope"]}).status_code == 400
    assert http.get("/_sandbox/stats").json()["token_requests"]["authorization_code"] == 0


def test_config_changes_and_validation(http: httpx.Client) -> None:
    assert http.get("/_sandbox/config").json() == {
        "access_token_ttl": 1800,
        "code_ttl": 30,
        "rotate_refresh_tokens": False,
        "rotation_grace_s": 0.0,
        "latency_ms": 0,
        "app_scopes": None,
        "rich_token_body": False,
        "uninstall_mode": "bad_refresh_token",
        "revoke_dead_token_status": 200,
        "daily_limit": None,
    }
    changed = http.post(
        "/_sandbox/config", json={"access_token_ttl": 60, "latency_ms": 5, "code_ttl": 1.5}
    ).json()
    assert (changed["access_token_ttl"], changed["latency_ms"], changed["code_ttl"]) == (60, 5, 1.5)
    for bad in ({"access_token_ttl": 0}, {"rotate_refresh_tokens": "yes"}, {"surprise": 1}, {"code_ttl": -1},
                {"rich_token_body": 1}, {"uninstall_mode": "gone"}, {"revoke_dead_token_status": 500},
                {"revoke_dead_token_status": True}):
        assert http.post("/_sandbox/config", json=bad).status_code == 400
    assert http.get("/_sandbox/config").json()["access_token_ttl"] == 60  # bad requests changed nothing
    http.post("/_sandbox/reset")
    assert http.get("/_sandbox/config").json()["access_token_ttl"] == 1800


def test_clock_moves_forward_only(http: httpx.Client) -> None:
    assert http.post("/_sandbox/clock", json={"advance": 60}).json()["offset"] == 60
    assert http.post("/_sandbox/clock", json={"advance": -1}).status_code == 400


def test_info_shows_the_app_without_its_secret(http: httpx.Client, sb: SandboxServer) -> None:
    resp = http.get("/_sandbox")
    body = resp.json()
    assert body["client_id"] == SANDBOX_CLIENT_ID
    assert body["redirect_uris"] == [DEFAULT_REDIRECT_URI]
    assert body["authorize_url"] == f"{sb.url}/oauth/authorize"
    assert SANDBOX_CLIENT_SECRET not in resp.text


def test_reset_forgets_tokens(http: httpx.Client) -> None:
    token = install(http)
    http.post("/_sandbox/reset")
    assert http.get("/_sandbox/tokens").json() == {"tokens": []}
    assert refresh(http, token["refresh_token"]).json()["status"] == "BAD_REFRESH_TOKEN"
