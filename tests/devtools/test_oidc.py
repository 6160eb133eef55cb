"""The test OpenID Connect provider (devtools/oidc, not the product): discovery, the code flow with PKCE,
ID tokens checked with an independent JOSE library (joserfc, which Authlib uses), and every refusal a client
may meet."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from devtools.oidc import OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OidcConfig, OidcServer
from devtools.oidc.__main__ import build_parser, config_from_args
from tests.utils.sandbox_oauth import query_of

BASIC = httpx.BasicAuth(OIDC_CLIENT_ID, OIDC_CLIENT_SECRET)


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcServer]:
    with OidcServer() as server:
        yield server


@pytest.fixture
def sb(idp: OidcServer) -> OidcServer:
    """The module's provider, reset: no codes or tokens, the configured users, the real clock."""
    httpx.post(f"{idp.url}/_oidc/reset", timeout=10).raise_for_status()
    return idp


@pytest.fixture
def http(sb: OidcServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.url, timeout=10) as client:
        yield client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(**overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code", "client_id": OIDC_CLIENT_ID, "redirect_uri": OIDC_REDIRECT_URI,
        "scope": "openid email profile", "state": "st-123", "nonce": "n-456", "prompt": "select_account",
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


def sign_in(http: httpx.Client, email: str = "ana@example.com", **overrides: str | None) -> dict[str, str]:
    """Post the sign-in form as ``email`` (the user's button); the redirect's query."""
    resp = http.post("/oidc/authorize", params=authorize_params(**overrides), data={"user": email})
    assert resp.status_code == 302, resp.text
    assert resp.headers["location"].startswith(OIDC_REDIRECT_URI + "?")
    return query_of(resp.headers["location"])


def token(http: httpx.Client, code: str, *, basic: httpx.BasicAuth | None = BASIC,
          form: dict[str, str] | None = None, **fields: str) -> httpx.Response:
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": OIDC_REDIRECT_URI, **(form or {}),
            **fields}
    if basic is None:
        return http.post("/oidc/token", data=body)
    return http.post("/oidc/token", data=body, auth=basic)


def verified_claims(http: httpx.Client, id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(http.get("/oidc/jwks").json())
    decoded = jwt.decode(id_token, keys, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"] == keys.keys[0].kid
    return dict(decoded.claims)


def test_discovery_describes_the_provider(http: httpx.Client, sb: OidcServer) -> None:
    meta = http.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == sb.url
    assert meta["authorization_endpoint"] == f"{sb.url}/oidc/authorize"
    assert meta["token_endpoint"] == f"{sb.url}/oidc/token"
    assert meta["jwks_uri"] == f"{sb.url}/oidc/jwks"
    assert meta["userinfo_endpoint"] == f"{sb.url}/oidc/userinfo"
    assert meta["response_types_supported"] == ["code"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert meta["scopes_supported"] == ["openid", "email", "profile"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_post", "client_secret_basic"}
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["subject_types_supported"] == ["public"]
    jwks = http.get("/oidc/jwks").json()
    assert [(k["kty"], k["alg"], k["use"]) for k in jwks["keys"]] == [("RSA", "RS256", "sig")]
    assert "d" not in jwks["keys"][0]  # the public half only


def test_authorize_page_lists_the_sign_in_users(http: httpx.Client) -> None:
    page = http.get("/oidc/authorize", params=authorize_params())
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    for email in ("boss@example.com", "olga@ops.example.com", "ana@example.com", "stranger@elsewhere.org"):
        assert f'data-email="{email}"' in page.text
    assert 'id="email"' in page.text and 'id="signin"' in page.text
    # Enter in the email field submits the email's own form, never the first listed user's button.
    email_form = page.text.split('<form id="signin-form"', 1)[1].split("</form>", 1)[0]
    assert 'id="email"' in email_form and 'class="user"' not in email_form


def test_code_flow_with_pkce_gives_a_verifiable_id_token_and_userinfo(http: httpx.Client, sb: OidcServer) -> None:
    verifier, challenge = pkce_pair()
    query = sign_in(http, code_challenge=challenge, code_challenge_method="S256")
    assert query["state"] == "st-123"
    resp = token(http, query["code"], code_verifier=verifier)
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = verified_claims(http, body["id_token"])
    assert claims["iss"] == sb.url and claims["aud"] == OIDC_CLIENT_ID and claims["nonce"] == "n-456"
    assert claims["email"] == "ana@example.com" and claims["email_verified"] is True and claims["name"] == "Ana"
    assert claims["iat"] <= claims["exp"] - 3600 + 1 and claims["sub"].startswith("sandbox-")
    at_hash = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(at_hash).rstrip(b"=").decode()
    info = http.get("/oidc/userinfo", headers={"authorization": f"Bearer {body['access_token']}"})
    assert info.json() == {"sub": claims["sub"], "email": "ana@example.com", "email_verified": True, "name": "Ana"}


def test_client_secret_post_and_a_typed_email_work_too(http: httpx.Client) -> None:
    resp = http.post("/oidc/authorize", params=authorize_params(), data={"email": "Boss@Example.com"})
    code = query_of(resp.headers["location"])["code"]
    resp = token(http, code, basic=None, client_id=OIDC_CLIENT_ID, client_secret=OIDC_CLIENT_SECRET)
    assert resp.status_code == 200, resp.text
    assert verified_claims(http, resp.json()["id_token"])["email"] == "boss@example.com"


def test_scopes_decide_the_released_claims(http: httpx.Client) -> None:
    """``openid`` alone gives ``sub`` only; no nonce asked, none given."""
    code = sign_in(http, scope="openid", nonce=None)["code"]
    claims = verified_claims(http, token(http, code).json()["id_token"])
    assert "email" not in claims and "name" not in claims and "nonce" not in claims


@pytest.mark.parametrize(("params", "code"), [
    ({"client_id": "someone-else"}, "unknown_client"),
    ({"client_id": None}, "unknown_client"),
    ({"redirect_uri": "http://localhost:8501/elsewhere"}, "redirect_mismatch"),
    ({"redirect_uri": None}, "redirect_mismatch"),
])
def test_a_wrong_client_or_redirect_uri_is_refused_on_the_providers_page(
        http: httpx.Client, params: dict[str, str | None], code: str) -> None:
    for resp in (http.get("/oidc/authorize", params=authorize_params(**params)),
                 http.post("/oidc/authorize", params=authorize_params(**params), data={"user": "ana@example.com"})):
        assert resp.status_code == 400 and "location" not in resp.headers
        assert f'data-error-code="{code}"' in resp.text


@pytest.mark.parametrize(("params", "error"), [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "email profile"}, "invalid_scope"),
    ({"scope": "openid offline_access"}, "invalid_scope"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "x" * 43, "code_challenge_method": None}, "invalid_request"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge_method": "S256"}, "invalid_request"),
])
def test_other_bad_authorize_requests_go_back_to_the_client(
        http: httpx.Client, params: dict[str, str | None], error: str) -> None:
    resp = http.get("/oidc/authorize", params=authorize_params(**params))
    assert resp.status_code == 302
    query = query_of(resp.headers["location"])
    assert query["error"] == error and query["state"] == "st-123"


def test_cancel_and_unknown_users(http: httpx.Client) -> None:
    resp = http.post("/oidc/authorize", params=authorize_params(), data={"decision": "cancel"})
    assert query_of(resp.headers["location"]) | {"error_description": ""} == {
        "error": "access_denied", "error_description": "", "state": "st-123"}
    resp = http.post("/oidc/authorize", params=authorize_params(), data={"email": "mallory@example.com"})
    assert resp.status_code == 400 and 'id="signin-error"' in resp.text and "mallory@example.com" in resp.text


@pytest.mark.parametrize("auth", [
    httpx.BasicAuth(OIDC_CLIENT_ID, "wrong"), httpx.BasicAuth("someone-else", OIDC_CLIENT_SECRET), None])
def test_bad_client_credentials_are_refused(http: httpx.Client, auth: httpx.BasicAuth | None) -> None:
    code = sign_in(http)["code"]
    resp = token(http, code, basic=auth)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert "www-authenticate" in resp.headers
    resp = token(http, code, basic=None, client_id=OIDC_CLIENT_ID, client_secret="wrong")
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert "sandbox-oidc-secret" not in resp.text


def test_two_client_authentication_methods_at_once_are_refused(http: httpx.Client) -> None:
    resp = token(http, sign_in(http)["code"], client_secret=OIDC_CLIENT_SECRET)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


@pytest.mark.parametrize("verifier", ["wrong-" + "v" * 43, None, "short"])
def test_pkce_is_enforced_when_a_challenge_was_sent(http: httpx.Client, verifier: str | None) -> None:
    _, challenge = pkce_pair()
    code = sign_in(http, code_challenge=challenge, code_challenge_method="S256")["code"]
    resp = token(http, code, form={"code_verifier": verifier} if verifier else {})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_a_verifier_without_a_challenge_is_refused(http: httpx.Client) -> None:
    verifier, _ = pkce_pair()
    resp = token(http, sign_in(http)["code"], code_verifier=verifier)
    assert resp.json()["error"] == "invalid_grant"


def test_a_code_works_once_and_its_reuse_revokes_the_access_token(http: httpx.Client) -> None:
    code = sign_in(http)["code"]
    first = token(http, code)
    assert first.status_code == 200
    bearer = {"authorization": f"Bearer {first.json()['access_token']}"}
    assert http.get("/oidc/userinfo", headers=bearer).status_code == 200
    again = token(http, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    refused = http.get("/oidc/userinfo", headers=bearer)
    assert refused.status_code == 401 and "invalid_token" in refused.headers["www-authenticate"]


@pytest.mark.parametrize("form", [
    {"redirect_uri": "http://localhost:8501/other"}, {"grant_type": "refresh_token"}, {"code": "nope"}])
def test_other_bad_token_requests(http: httpx.Client, form: dict[str, str]) -> None:
    resp = token(http, sign_in(http)["code"], form=form)
    assert resp.status_code == 400
    assert resp.json()["error"] == ("unsupported_grant_type" if "grant_type" in form else "invalid_grant")


def test_codes_and_access_tokens_expire_on_the_providers_clock(http: httpx.Client) -> None:
    code = sign_in(http)["code"]
    access = token(http, sign_in(http)["code"]).json()["access_token"]
    http.post("/_oidc/clock", json={"advance": 3600}).raise_for_status()
    assert token(http, code).json()["error"] == "invalid_grant"
    assert http.get("/oidc/userinfo", headers={"authorization": f"Bearer {access}"}).status_code == 401


def test_the_users_control_replaces_who_may_sign_in_until_reset(http: httpx.Client) -> None:
    resp = http.post("/_oidc/users", json={"users": ["zoe@example.com", {"email": "yan@x.org", "name": "Y"}]})
    assert [(u["email"], u["name"]) for u in resp.json()["users"]] == [("zoe@example.com", "Zoe"), ("yan@x.org", "Y")]
    assert 'data-email="zoe@example.com"' in http.get("/oidc/authorize", params=authorize_params()).text
    refused = http.post("/oidc/authorize", params=authorize_params(), data={"user": "ana@example.com"})
    assert refused.status_code == 400
    for bad in ({"users": "zoe@example.com"}, {"users": ["not-an-email"]}, {"users": [{"name": "x"}]}, {}):
        assert http.post("/_oidc/users", json=bad).status_code == 400
    http.post("/_oidc/reset").raise_for_status()
    assert len(http.get("/_oidc/users").json()["users"]) == 4


def test_client_and_redirect_uris_are_configurable() -> None:
    config = OidcConfig(client_id="c1", client_secret="s1", redirect_uris=["http://localhost:9/cb"])
    with OidcServer(config) as sb, httpx.Client(base_url=sb.url) as http:
        resp = http.post("/oidc/authorize", data={"user": "ana@example.com"}, params=authorize_params(
            client_id="c1", redirect_uri="http://localhost:9/cb"))
        code = query_of(resp.headers["location"])["code"]
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://localhost:9/cb"}
        resp = http.post("/oidc/token", data=body, auth=httpx.BasicAuth("c1", "s1"))
        assert resp.status_code == 200 and verified_claims(http, resp.json()["id_token"])["aud"] == "c1"


def test_the_cli_configures_the_provider() -> None:
    args = build_parser().parse_args(["--redirect-uri", "http://localhost:1234/oauth2callback",
                                      "--user", "a@example.com", "b@example.com", "--client-id", "x"])
    oidc = config_from_args(args)
    assert oidc.redirect_uris == ["http://localhost:1234/oauth2callback"] and oidc.client_id == "x"
    assert [u.email for u in oidc.users] == ["a@example.com", "b@example.com"]
    assert config_from_args(build_parser().parse_args([])) == OidcConfig()
    with pytest.raises(ValueError, match="not an email"):
        config_from_args(build_parser().parse_args(["--user", "nobody"]))
