"""The sandbox's responses against the response schemas in HubSpot's own OpenAPI files (tests/contracts/).

Each spec is registered as one resource so ``$ref``s resolve within it; ``oneOf`` members are told apart by
``token_use``. Formats are checked too: ``uuid`` for ``correlationId`` and int32/int64 ranges for ids.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.contracts.departures import KEYS
from tests.utils.sandbox_oauth import CLIENT, exchange, get_code, install, refresh

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"
SPECS = {
    "v1": "hubspot-oauth-openapi.json",
    "v3": "hubspot-oauth-v3-openapi.json",
    "2026-03": "hubspot-oauth-2026-03-openapi.json",
}
FORMATS = FormatChecker()


def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


FORMATS.checks("int32")(_int32)
FORMATS.checks("int64")(_int64)


@cache
def spec(version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONTRACTS / SPECS[version]).read_text(encoding="utf-8"))
    return data


@cache
def validator(version: str, pointer: str) -> Draft202012Validator:
    uri = f"urn:hubspot-oauth-{version}"
    registry: Registry[Any] = Registry().with_resource(uri, DRAFT202012.create_resource(spec(version)))
    return Draft202012Validator({"$ref": f"{uri}#{pointer}"}, registry=registry, format_checker=FORMATS)


def response_schema(version: str, path: str, method: str, status: str) -> str:
    """The JSON pointer of an operation's response schema, read from the spec (never hard-coded)."""
    responses = spec(version)["paths"][path][method]["responses"]
    response = responses[status]
    if "$ref" in response:
        response = spec(version)["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = next(iter(response["content"].values()))
    ref: str = content["schema"]["$ref"]
    return ref.removeprefix("#")


def assert_valid(version: str, path: str, method: str, status: str, body: Any) -> None:
    check = validator(version, response_schema(version, path, method, status))
    errors = sorted(check.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("version", list(SPECS))
def test_token_responses_match_token_response_if(http: httpx.Client, version: str) -> None:
    if version == "v1":  # the guide's four fields by default (a listed departure); the rich body conforms
        http.post("/_sandbox/config", json={"rich_token_body": True}).raise_for_status()
    path = f"/oauth/{version}/token"
    first = exchange(http, get_code(http), version=version)
    assert first.status_code == 200
    assert_valid(version, path, "post", "200", first.json())
    second = refresh(http, first.json()["refresh_token"], version=version)
    assert second.status_code == 200
    assert_valid(version, path, "post", "200", second.json())


def test_v1_token_body_is_the_guides_four_fields_a_listed_departure(http: httpx.Client) -> None:
    body = exchange(http, get_code(http), version="v1").json()
    assert set(body) == {"token_type", "refresh_token", "access_token", "expires_in"}
    assert not validator("v1", response_schema("v1", "/oauth/v1/token", "post", "200")).is_valid(body)
    assert "v1_token_four_fields" in KEYS


@pytest.mark.parametrize("version", ["v3", "2026-03"])
def test_v3_token_body_is_the_guides_fields_plus_what_the_spec_requires(http: httpx.Client, version: str) -> None:
    body = exchange(http, get_code(http), version=version).json()
    assert set(body) == {"token_type", "refresh_token", "access_token", "expires_in", "hub_id", "scopes",
                         "token_use"}


@pytest.mark.parametrize("version", list(SPECS))
def test_token_errors_match_the_error_schema(http: httpx.Client, version: str) -> None:
    path = f"/oauth/{version}/token"
    bad_code = exchange(http, "na1-nope", version=version)
    bad_refresh = refresh(http, "na1-nope", version=version)
    bad_client = refresh(http, "na1-nope", version=version, client_secret="wrong")
    for resp in (bad_code, bad_refresh, bad_client):
        assert resp.status_code == 400
        assert_valid(version, path, "post", "default", resp.json())


def test_v1_metadata_match_their_schemas(http: httpx.Client) -> None:
    token = install(http)
    access = http.get(f"/oauth/v1/access-tokens/{token['access_token']}")
    assert_valid("v1", "/oauth/v1/access-tokens/{token}", "get", "200", access.json())
    refresh_info = http.get(f"/oauth/v1/refresh-tokens/{token['refresh_token']}")
    assert_valid("v1", "/oauth/v1/refresh-tokens/{token}", "get", "200", refresh_info.json())
    for path, url in [
        ("/oauth/v1/access-tokens/{token}", "/oauth/v1/access-tokens/nope"),
        ("/oauth/v1/refresh-tokens/{token}", "/oauth/v1/refresh-tokens/nope"),
    ]:
        resp = http.get(url)
        assert resp.status_code == 404  # unknown path resource; the body is the spec's default Error
        assert_valid("v1", path, "get", "default", resp.json())
    delete = http.delete(f"/oauth/v1/refresh-tokens/{token['refresh_token']}")
    assert delete.status_code == 204  # the spec's declared success: "No content"
    assert "204" in spec("v1")["paths"]["/oauth/v1/refresh-tokens/{token}"]["delete"]["responses"]
    http.post("/_sandbox/config", json={"revoke_dead_token_status": 400}).raise_for_status()
    gone = http.delete(f"/oauth/v1/refresh-tokens/{token['refresh_token']}")
    assert gone.status_code == 400
    assert_valid("v1", "/oauth/v1/refresh-tokens/{token}", "delete", "default", gone.json())


@pytest.mark.parametrize("version", ["v3", "2026-03"])
def test_introspection_matches_token_info_response_base_if(http: httpx.Client, version: str) -> None:
    token = install(http)
    path = f"/oauth/{version}/token/introspect"
    for field in ("access_token", "refresh_token"):
        resp = http.post(path, data={"token": token[field], **CLIENT})
        assert resp.status_code == 200
        assert resp.json()["token_use"] == field
        assert_valid(version, path, "post", "200", resp.json())
    bad = http.post(path, data={"token": token["access_token"], **CLIENT, "client_id": "nope"})
    assert_valid(version, path, "post", "default", bad.json())


@pytest.mark.parametrize("version", ["v3", "2026-03"])
def test_revoke_errors_match_the_error_schema(http: httpx.Client, version: str) -> None:
    path = f"/oauth/{version}/token/revoke"
    # The spec declares no success response for revoke; the sandbox answers 200 {} (the README).
    assert set(spec(version)["paths"][path]["post"]["responses"]) == {"default"}
    bad = http.post(path, data={"token": "x", "client_id": "nope", "client_secret": "nope"})
    assert bad.status_code == 400
    assert_valid(version, path, "post", "default", bad.json())


def test_the_schemas_really_reject_wrong_shapes() -> None:
    """Guard against a validator that accepts everything (e.g. a $ref that never resolved)."""
    pointer = response_schema("v3", "/oauth/v3/token", "post", "200")
    assert not validator("v3", pointer).is_valid({"access_token": "x"})
    assert not validator("v3", pointer).is_valid(
        {
            "access_token": "x",
            "refresh_token": "y",
            "expires_in": 1,
            "token_type": "bearer",
            "token_use": "nope",
        }
    )
    error = response_schema("v3", "/oauth/v3/token", "post", "default")
    assert not validator("v3", error).is_valid(
        {"message": "m", "category": "c", "correlationId": "not-a-uuid"}
    )
