"""The token endpoint (both grants, three versions), metadata, introspection, revocation and uninstall."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest

from dashboard.sandbox import DEFAULT_REDIRECT_URI, SANDBOX_CLIENT_ID, SandboxServer
from tests.utils.sandbox_oauth import CLIENT, FREE_HUB, bearer, exchange, get_code, install, issue, refresh

VERSIONS = ["v1", "v3", "2026-03"]
REFRESH_FORMAT = re.compile(r"^na1-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def error_of(resp: httpx.Response) -> tuple[int, str, str]:
    body = resp.json()
    assert body["message"] == body["error_description"]
    return resp.status_code, body["error"], body["status"]


@pytest.mark.parametrize("version", VERSIONS)
def test_code_exchange_and_refresh_on_every_version(http: httpx.Client, version: str) -> None:
    token = exchange(http, get_code(http), version=version)
    assert token.status_code == 200
    assert token.headers["cache-control"] == "no-store"
    body = token.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    assert 300 <= len(body["access_token"]) <= 400
    assert REFRESH_FORMAT.match(body["refresh_token"])
    if version == "v1":  # V1GUIDE's example: exactly four fields
        assert set(body) == {"token_type", "refresh_token", "access_token", "expires_in"}
    else:  # V3GUIDE's example plus SPEC's required token_use
        assert body["token_use"] == "access_token"
        assert body["hub_id"] == FREE_HUB
        assert body["scopes"] == ["oauth", "crm.objects.contacts.read"]
        assert "user_id" not in body
    again = refresh(http, body["refresh_token"], version=version)
    assert again.status_code == 200
    assert again.json()["access_token"] != body["access_token"]
    assert set(again.json()) == set(body)


@pytest.mark.parametrize("version", VERSIONS)
def test_rich_token_body_restores_every_field(http: httpx.Client, version: str) -> None:
    http.post("/_sandbox/config", json={"rich_token_body": True}).raise_for_status()
    body = exchange(http, get_code(http), version=version).json()
    assert (body["hub_id"], body["token_use"]) == (FREE_HUB, "access_token")
    assert body["scopes"] == ["oauth", "crm.objects.contacts.read"]
    assert isinstance(body["user_id"], int)


def test_a_fresh_sandbox_returns_the_same_refresh_token_on_two_refreshes(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    """HubSpot's refresh guide: store the install's refresh token and reuse it. A default sandbox agrees."""
    with httpx.Client(base_url=make_sandbox().url) as client:
        first = install(client)
        one, two = (refresh(client, first["refresh_token"]).json() for _ in range(2))
        assert one["refresh_token"] == two["refresh_token"] == first["refresh_token"]


def test_codes_are_single_use(http: httpx.Client) -> None:
    code = get_code(http)
    assert exchange(http, code).status_code == 200
    assert error_of(exchange(http, code)) == (400, "invalid_grant", "BAD_AUTH_CODE")
    assert error_of(exchange(http, "na1-0000-0000-0000-0000-000000000000")) == (
        400,
        "invalid_grant",
        "BAD_AUTH_CODE",
    )


def test_codes_expire_after_code_ttl(http: httpx.Client) -> None:
    assert http.post("/_sandbox/config", json={"code_ttl": 0.2}).status_code == 200
    code = get_code(http)
    time.sleep(0.3)
    assert error_of(exchange(http, code)) == (400, "invalid_grant", "EXPIRED_AUTH_CODE")


def test_codes_expire_by_the_sandbox_clock(http: httpx.Client) -> None:
    code = get_code(http)
    http.post("/_sandbox/clock", json={"advance": 31})
    assert error_of(exchange(http, code)) == (400, "invalid_grant", "EXPIRED_AUTH_CODE")


def test_code_needs_the_authorize_requests_redirect_uri(http: httpx.Client) -> None:
    code = get_code(http)
    assert error_of(exchange(http, code, redirect_uri="http://localhost:8501/other")) == (
        400,
        "invalid_grant",
        "MISMATCH_REDIRECT_URI_AUTH_CODE",
    )
    assert exchange(http, code).status_code == 200  # a mismatch does not burn the code


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"grant_type": ""}, ("invalid_request", "BAD_GRANT_TYPE")),
        ({"grant_type": "password"}, ("unsupported_grant_type", "BAD_GRANT_TYPE")),
        ({"grant_type": "client_credentials"}, ("unsupported_grant_type", "BAD_GRANT_TYPE")),
        ({"client_id": ""}, ("invalid_request", "BAD_CLIENT_ID")),
        ({"client_secret": ""}, ("invalid_request", "BAD_CLIENT_ID")),
        ({"client_id": "wrong"}, ("invalid_client", "BAD_CLIENT_ID")),
        ({"client_secret": "wrong"}, ("invalid_client", "BAD_CLIENT_ID")),
        ({"code": ""}, ("invalid_request", "BAD_AUTH_CODE")),
        ({"redirect_uri": ""}, ("invalid_request", "BAD_REDIRECT_URI")),
    ],
)
def test_token_request_errors(http: httpx.Client, form: dict[str, str], expected: tuple[str, str]) -> None:
    data = {
        "grant_type": "authorization_code",
        "code": get_code(http),
        "redirect_uri": DEFAULT_REDIRECT_URI,
        **CLIENT,
    }
    status, error, legacy = error_of(http.post("/oauth/v1/token", data=data | form))
    assert (status, error, legacy) == (400, *expected)
    stats = http.get("/_sandbox/stats").json()
    assert stats["errors"] == {expected[0]: 1}


def test_refresh_errors(http: httpx.Client) -> None:
    assert error_of(refresh(http, "")) == (400, "invalid_request", "BAD_REFRESH_TOKEN")
    assert error_of(refresh(http, "na1-dead-beef-dead-beef-deadbeefdead")) == (
        400,
        "invalid_grant",
        "BAD_REFRESH_TOKEN",
    )
    token = install(http)
    assert error_of(refresh(http, token["refresh_token"], client_secret="x")) == (
        400,
        "invalid_client",
        "BAD_CLIENT_ID",
    )


def test_v1_accepts_legacy_query_parameters(http: httpx.Client) -> None:
    token = install(http)
    form = {"grant_type": "refresh_token", "client_id": SANDBOX_CLIENT_ID}
    query = {"client_secret": CLIENT["client_secret"], "refresh_token": token["refresh_token"]}
    assert http.post("/oauth/v1/token", params=query, data=form).status_code == 200


def test_rotation_on_retires_the_old_refresh_token_at_once(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"rotate_refresh_tokens": True}).raise_for_status()
    first = install(http)
    second = refresh(http, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert error_of(refresh(http, first["refresh_token"])) == (400, "invalid_grant", "BAD_REFRESH_TOKEN")
    assert refresh(http, second["refresh_token"]).status_code == 200


def test_rotation_off_returns_the_same_refresh_token(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"rotate_refresh_tokens": False})
    first = install(http)
    for _ in range(3):
        again = refresh(http, first["refresh_token"]).json()
        assert again["refresh_token"] == first["refresh_token"]
    assert http.get("/_sandbox/stats").json()["refresh_by_hub"] == {str(FREE_HUB): 3}


def test_rotation_can_start_off_in_the_config(make_sandbox: Callable[..., SandboxServer]) -> None:
    sandbox = make_sandbox(rotate_refresh_tokens=False, access_token_ttl=60)
    with httpx.Client(base_url=sandbox.url) as client:
        first = install(client)
        again = refresh(client, first["refresh_token"]).json()
        assert again["refresh_token"] == first["refresh_token"]
        assert again["expires_in"] == 60


def test_refresh_keeps_older_access_tokens_valid(http: httpx.Client) -> None:
    first = install(http)
    second = refresh(http, first["refresh_token"]).json()
    for access in (first["access_token"], second["access_token"]):
        assert http.get("/account-info/v3/details", headers=bearer(access)).status_code == 200


def test_access_token_ttl_is_configurable(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"access_token_ttl": 5})
    assert install(http)["expires_in"] == 5


def test_v1_metadata(http: httpx.Client) -> None:
    token = install(http)
    access = http.get(f"/oauth/v1/access-tokens/{token['access_token']}").json()
    assert access["token"] == token["access_token"]
    assert access["token_type"] == "access"
    assert access["hub_id"] == FREE_HUB
    assert access["hub_domain"] == "acme-corp.hubspot.com"
    assert access["user"] == "admin@acme-corp.hubspot.com"
    assert 1790 <= access["expires_in"] <= 1800
    assert access["scopes"] == token["scopes"]
    refresh_info = http.get(f"/oauth/v1/refresh-tokens/{token['refresh_token']}").json()
    assert refresh_info["client_id"] == SANDBOX_CLIENT_ID
    assert refresh_info["token_type"] == "refresh"
    unknown = http.get("/oauth/v1/refresh-tokens/na1-nope")
    assert error_of(unknown) == (404, "invalid_grant", "BAD_REFRESH_TOKEN")
    assert unknown.json()["category"] == "OBJECT_NOT_FOUND"
    assert http.get("/oauth/v1/access-tokens/nope").status_code == 404
    assert http.get("/_sandbox/stats").json()["metadata"] == 4


def test_v1_delete_revokes_only_the_refresh_token(http: httpx.Client) -> None:
    token = install(http)
    resp = http.delete(f"/oauth/v1/refresh-tokens/{token['refresh_token']}")
    assert resp.status_code == 204
    assert resp.content == b""
    assert error_of(refresh(http, token["refresh_token"]))[2] == "BAD_REFRESH_TOKEN"
    assert http.get("/account-info/v3/details", headers=bearer(token["access_token"])).status_code == 200
    # Revoking a dead token: success by default (undocumented), or the configured 4xx.
    assert http.delete(f"/oauth/v1/refresh-tokens/{token['refresh_token']}").status_code == 204
    http.post("/_sandbox/config", json={"revoke_dead_token_status": 400}).raise_for_status()
    assert http.delete(f"/oauth/v1/refresh-tokens/{token['refresh_token']}").status_code == 400


@pytest.mark.parametrize("version", ["v3", "2026-03"])
@pytest.mark.parametrize("field", ["token", "access_token", "refresh_token"])
def test_introspect_accepts_every_documented_field(http: httpx.Client, version: str, field: str) -> None:
    token = install(http)
    kind = "refresh_token" if field == "refresh_token" else "access_token"
    resp = http.post(f"/oauth/{version}/token/introspect", data={field: token[kind], **CLIENT})
    body = resp.json()
    assert resp.status_code == 200
    assert body["active"] is True
    assert body["token_use"] == kind
    assert body["client_id"] == SANDBOX_CLIENT_ID
    assert body["hub_domain"] == "acme-corp.hubspot.com"
    assert body["user"] == "admin@acme-corp.hubspot.com"
    if kind == "access_token":
        assert body["signed_access_token"]["hubId"] == FREE_HUB
        assert body["is_private_distribution"] is False


def test_introspect_unknown_expired_and_bad_client(http: httpx.Client) -> None:
    unknown = http.post("/oauth/v3/token/introspect", data={"token": "nope", **CLIENT})
    assert (unknown.status_code, unknown.json()) == (200, {"active": False})
    token = install(http)
    http.post("/_sandbox/clock", json={"advance": 1801})
    expired = http.post("/oauth/2026-03/token/introspect", data={"token": token["access_token"], **CLIENT})
    assert expired.json() == {"active": False}
    bad = http.post(
        "/oauth/v3/token/introspect", data={"token": token["access_token"], **CLIENT, "client_secret": "x"}
    )
    assert error_of(bad) == (400, "invalid_client", "BAD_CLIENT_ID")
    assert http.post("/oauth/v3/token/introspect", data=CLIENT).json()["error"] == "invalid_request"
    assert http.get("/_sandbox/stats").json()["introspect"] == 4


@pytest.mark.parametrize("version", ["v3", "2026-03"])
def test_revoke(http: httpx.Client, version: str) -> None:
    token = install(http)
    resp = http.post(f"/oauth/{version}/token/revoke", data={"token": token["refresh_token"], **CLIENT})
    assert (resp.status_code, resp.json()) == (200, {})
    assert error_of(refresh(http, token["refresh_token"]))[2] == "BAD_REFRESH_TOKEN"
    intro = http.post(f"/oauth/{version}/token/introspect", data={"token": token["refresh_token"], **CLIENT})
    assert intro.json() == {"active": False}
    # Unknown tokens are accepted silently (RFC 7009); wrong credentials are not.
    again = http.post(f"/oauth/{version}/token/revoke", data={"token": "nope", **CLIENT})
    assert again.status_code == 200
    bad = http.post(
        f"/oauth/{version}/token/revoke", data={"token": "x", "client_id": "x", "client_secret": "y"}
    )
    assert error_of(bad) == (400, "invalid_client", "BAD_CLIENT_ID")


def test_uninstall_kills_every_token_of_the_install(http: httpx.Client) -> None:
    token = install(http)
    other = issue(http, hub_id=1000002)
    resp = http.post("/_sandbox/uninstall", json={"hub_id": FREE_HUB})
    assert resp.json() == {"hub_id": FREE_HUB, "revoked_refresh_tokens": 1}
    assert error_of(refresh(http, token["refresh_token"])) == (400, "invalid_grant", "BAD_REFRESH_TOKEN")
    api = http.get("/account-info/v3/details", headers=bearer(token["access_token"]))
    assert (api.status_code, api.json()["category"]) == (401, "INVALID_AUTHENTICATION")
    assert refresh(http, other["refresh_token"]).status_code == 200  # other accounts are untouched
    assert install(http)["hub_id"] == FREE_HUB  # and the customer may install again
    assert http.post("/_sandbox/uninstall", json={"hub_id": 42}).status_code == 404
