"""What the sandbox adds for the API proxy: contacts read/create, the daily limit per tier, the API log."""

from __future__ import annotations

import httpx

from dashboard.sandbox.ratelimit import DAILY_FREE_STARTER, DAILY_PRO_ENTERPRISE, daily_limit_for
from tests.utils.sandbox_oauth import FREE_HUB, PRO_HUB, bearer, issue


def test_daily_limit_follows_the_tier_and_resets_with_the_day(http: httpx.Client) -> None:
    assert daily_limit_for("free") == daily_limit_for("sales-starter") == DAILY_FREE_STARTER
    assert daily_limit_for("marketing-professional") == daily_limit_for("enterprise") == DAILY_PRO_ENTERPRISE
    token = issue(http, FREE_HUB)
    http.post("/_sandbox/config", json={"daily_limit": 2}).raise_for_status()
    headers = bearer(token["access_token"])
    assert [http.get("/account-info/v3/details", headers=headers).status_code for _ in range(2)] == [200, 200]
    limited = http.get("/account-info/v3/details", headers=headers)
    assert limited.status_code == 429
    assert limited.json()["policyName"] == "DAILY" and limited.json()["message"] == "You have reached your daily limit."
    assert http.get("/account-info/v3/details", headers=bearer(issue(http, PRO_HUB)["access_token"])).status_code == 200
    http.post("/_sandbox/clock", json={"advance": 86_400}).raise_for_status()
    fresh = bearer(issue(http, FREE_HUB)["access_token"])
    assert http.get("/account-info/v3/details", headers=fresh).status_code == 200  # a new day
    assert http.post("/_sandbox/config", json={"daily_limit": 0}).status_code == 400


def test_contacts_read_and_create_and_the_api_log(http: httpx.Client) -> None:
    token = issue(http, FREE_HUB, ["oauth", "crm.objects.contacts.read"])
    headers = {**bearer(token["access_token"]), "Cookie": "a=b"}
    one = http.get("/crm/v3/objects/contacts/1", headers=headers)
    assert one.status_code == 200 and one.json()["id"] == "1"
    assert http.get("/crm/v3/objects/contacts/100000", headers=headers).json()["category"] == "OBJECT_NOT_FOUND"
    denied = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "a@example.com"}}, headers=headers)
    assert denied.status_code == 403 and denied.json()["category"] == "MISSING_SCOPES"
    writer = issue(http, FREE_HUB, ["oauth", "crm.objects.contacts.write"])
    created = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "a@example.com"}},
                        headers=bearer(writer["access_token"]))
    assert created.status_code == 201 and created.json()["properties"]["email"] == "a@example.com"
    log = http.get("/_sandbox/api-log").json()["requests"]
    assert log[0]["path"] == "/crm/v3/objects/contacts/1" and "cookie" in log[0]["header_names"]
    assert all(entry["authorization"] == "issued" for entry in log)
    assert token["access_token"] not in str(log)  # header names only, never values
