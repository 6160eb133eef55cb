"""The CRM slice: Bearer auth failures, scopes, paging and HubSpot's per-account burst limit."""

from __future__ import annotations

import httpx

from tests.utils.sandbox_oauth import FREE_HUB, PRO_HUB, bearer, issue

CONTACTS = ["oauth", "crm.objects.contacts.read"]


def test_account_details(http: httpx.Client) -> None:
    token = issue(http, PRO_HUB)
    resp = http.get("/account-info/v3/details", headers=bearer(token["access_token"]))
    assert resp.status_code == 200
    body = resp.json()
    assert body["portalId"] == PRO_HUB
    assert {"accountType", "timeZone", "companyCurrency", "uiDomain", "dataHostingLocation"} <= set(body)


def test_contacts_pages_with_after(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB, CONTACTS)
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 25}
    pages = 0
    while True:
        resp = http.get("/crm/v3/objects/contacts", params=params, headers=bearer(token["access_token"]))
        assert resp.status_code == 200
        body = resp.json()
        seen += [c["id"] for c in body["results"]]
        pages += 1
        if "paging" not in body:
            break
        params = {"limit": 25, "after": body["paging"]["next"]["after"]}
        assert body["paging"]["next"]["link"].endswith(f"after={params['after']}&limit=25")
    total = 40 + FREE_HUB % 60
    assert seen == [str(i) for i in range(1, total + 1)]
    assert pages == -(-total // 25)
    again = http.get("/crm/v3/objects/contacts", params={"limit": 3}, headers=bearer(token["access_token"]))
    assert again.json()["results"][0]["properties"]["firstname"] == "Ada"  # deterministic
    props = http.get(
        "/crm/v3/objects/contacts",
        params={"limit": 1, "properties": "email"},
        headers=bearer(token["access_token"]),
    )
    assert set(props.json()["results"][0]["properties"]) == {"email"}
    bad = http.get("/crm/v3/objects/contacts", params={"limit": "x"}, headers=bearer(token["access_token"]))
    assert (bad.status_code, bad.json()["category"]) == (400, "VALIDATION_ERROR")


def test_contacts_need_the_read_scope(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB, ["oauth"])
    resp = http.get("/crm/v3/objects/contacts", headers=bearer(token["access_token"]))
    assert resp.status_code == 403
    body = resp.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.read"]
    assert "X-HubSpot-RateLimit-Max" in resp.headers


def test_missing_unknown_and_expired_tokens(http: httpx.Client) -> None:
    missing = http.get("/account-info/v3/details")
    assert (missing.status_code, missing.json()["category"]) == (401, "INVALID_AUTHENTICATION")
    unknown = http.get("/account-info/v3/details", headers=bearer("C-not-a-token"))
    assert (unknown.status_code, unknown.json()["category"]) == (401, "INVALID_AUTHENTICATION")
    token = issue(http, FREE_HUB, CONTACTS)
    http.post("/_sandbox/clock", json={"advance": 1800 + 5 * 60 + 10})
    expired = http.get("/crm/v3/objects/contacts", headers=bearer(token["access_token"]))
    assert expired.status_code == 401
    body = expired.json()
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["status"] == "error"
    assert body["message"] == "The OAuth token used to make this call expired 5 minute(s) ago."
    assert body["correlationId"]
    for resp in (missing, unknown, expired):
        assert resp.headers["X-HubSpot-RateLimit-Max"] == "110"


def test_rate_limit_110_per_10_seconds_per_account(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB)
    other = issue(http, PRO_HUB)
    headers = bearer(token["access_token"])
    for i in range(110):
        resp = http.get("/account-info/v3/details", headers=headers)
        assert resp.status_code == 200, i
        assert resp.headers["X-HubSpot-RateLimit-Remaining"] == str(109 - i)
        assert resp.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    limited = http.get("/account-info/v3/details", headers=headers)
    assert limited.status_code == 429
    body = limited.json()
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten secondly limit."
    assert {"correlationId", "requestId"} <= set(body)
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "110"
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    # The limit is per account, and the window rolls.
    assert http.get("/account-info/v3/details", headers=bearer(other["access_token"])).status_code == 200
    http.post("/_sandbox/clock", json={"advance": 10})
    assert http.get("/account-info/v3/details", headers=headers).status_code == 200
    stats = http.get("/_sandbox/stats").json()
    assert stats["rate_limited"] == 1
    # A late request left over from an earlier test on this shared sandbox carries a token the reset
    # forgot ("other"); count the ones made with this test's tokens.
    log = http.get("/_sandbox/api-log").json()["requests"]
    assert sum(r["authorization"] == "issued" for r in log) == 113
    assert stats["api"] >= 113
