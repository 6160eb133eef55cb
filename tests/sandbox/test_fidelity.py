"""The sandbox's fidelity switches (``fidelity.py``) and HubSpot's App uninstalls API, over loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.sandbox_oauth import CLIENT, FREE_HUB, PRO_HUB, bearer, exchange, get_code, install, issue, refresh

UNINSTALL_PATHS = ("/appinstalls/v3/external-install", "/appinstalls/2026-03/external-install")


def test_a_405_lists_every_allowed_method(http: httpx.Client) -> None:
    resp = http.put("/oauth/v1/refresh-tokens/na1-any")
    assert resp.status_code == 405
    assert {m.strip() for m in resp.headers["allow"].split(",")} == {"GET", "HEAD", "DELETE"}


@pytest.mark.parametrize("mode", ["bad_refresh_token", "bad_hub"])
def test_uninstall_mode_decides_the_refresh_error(http: httpx.Client, mode: str) -> None:
    http.post("/_sandbox/config", json={"uninstall_mode": mode}).raise_for_status()
    token = issue(http)
    http.post("/_sandbox/uninstall", json={"hub_id": FREE_HUB}).raise_for_status()
    body = refresh(http, token["refresh_token"]).json()
    expected = ("access_denied", "BAD_HUB") if mode == "bad_hub" else ("invalid_grant", "BAD_REFRESH_TOKEN")
    assert (body["error"], body["status"]) == expected
    assert refresh(http, "na1-unknown").json()["status"] == "BAD_REFRESH_TOKEN"  # unknown tokens: not a hub


@pytest.mark.parametrize("status", [200, 400, 401, 404])
@pytest.mark.parametrize("version", ["v1", "v3", "2026-03"])
def test_revoking_a_dead_token_answers_the_configured_status(http: httpx.Client, status: int, version: str) -> None:
    http.post("/_sandbox/config", json={"revoke_dead_token_status": status}).raise_for_status()
    token = issue(http)["refresh_token"]

    def revoke() -> httpx.Response:
        if version == "v1":
            return http.delete(f"/oauth/v1/refresh-tokens/{token}")
        return http.post(f"/oauth/{version}/token/revoke", data={"token": token, **CLIENT})

    assert revoke().status_code in (200, 204)  # alive: revoked
    again = revoke()
    if status == 200:
        assert again.status_code in (200, 204)
    else:
        assert (again.status_code, again.json()["status"]) == (status, "BAD_REFRESH_TOKEN")


def test_the_metadata_fault_target_spares_the_token_endpoint(http: httpx.Client) -> None:
    http.post("/_sandbox/faults", json={"target": "metadata", "error_rate": 1, "error_status": 503, "count": 2})
    token = exchange(http, get_code(http), version="v1").json()  # the exchange is not faulted
    assert http.get(f"/oauth/v1/access-tokens/{token['access_token']}").status_code == 503
    assert http.post("/oauth/v3/token/introspect", data={"token": token["access_token"], **CLIENT}).status_code == 503
    assert http.get(f"/oauth/v1/access-tokens/{token['access_token']}").status_code == 200  # count spent
    assert http.delete(f"/oauth/v1/refresh-tokens/{token['refresh_token']}").status_code == 204  # a revoke


@pytest.mark.parametrize("path", UNINSTALL_PATHS)
def test_app_uninstalls_api(http: httpx.Client, path: str) -> None:
    mine, other = install(http), install(http, account_id=PRO_HUB)
    assert http.get("/_sandbox/installs").json() == {"installs": [{"hub_id": FREE_HUB}, {"hub_id": PRO_HUB}]}
    resp = http.delete(path, headers=bearer(mine["access_token"]))
    assert (resp.status_code, resp.content) == (204, b"")
    assert http.get("/_sandbox/installs").json() == {"installs": [{"hub_id": PRO_HUB}]}
    assert not [t for t in http.get(f"/_sandbox/tokens?hub_id={FREE_HUB}").json()["tokens"] if t["active"]]
    assert refresh(http, mine["refresh_token"]).json()["status"] == "BAD_REFRESH_TOKEN"
    assert http.get("/account-info/v3/details", headers=bearer(other["access_token"])).status_code == 200
    assert http.delete(path, headers=bearer(mine["access_token"])).status_code == 401  # its token is dead
    assert http.delete(path).status_code == 401
    assert http.get("/_sandbox/stats").json()["app_uninstalls"] == 1


def test_app_uninstalls_api_needs_the_oauth_scope(http: httpx.Client) -> None:
    token = issue(http, scopes=["crm.objects.contacts.read"])
    assert http.delete(UNINSTALL_PATHS[1], headers=bearer(token["access_token"])).status_code == 403
    assert http.get("/_sandbox/installs").json() == {"installs": [{"hub_id": FREE_HUB}]}
