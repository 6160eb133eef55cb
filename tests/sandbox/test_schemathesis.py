"""Schemathesis against the sandbox, with HubSpot's own three OAuth specs (tests/contracts/).

For every operation of each spec, schemathesis generates requests (valid by the spec, and invalid ones),
and hooks registered on the schema inject what a random generator cannot guess: the app's client id and
secret, a fresh authorization code with its redirect URI, live refresh and access tokens (in the form or
the path). Each response must pass schemathesis's checks (no 5xx, a declared status, headers and body
matching the spec), except the departures listed in ``tests/contracts/departures.py``, which are
recognised by their exact shape and counted. The case count per spec is printed (``-s``) and bounded
below, so a spec that silently stops generating fails.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from dashboard.sandbox import DEFAULT_REDIRECT_URI, SandboxServer
from tests.contracts.departures import KEYS, departure_for
from tests.utils.sandbox_oauth import CLIENT, FREE_HUB, authorize_url, consent, query_of

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"
SPECS = {
    "v1": "hubspot-oauth-openapi.json",
    "v3": "hubspot-oauth-v3-openapi.json",
    "2026-03": "hubspot-oauth-2026-03-openapi.json",
}
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 20}  # per operation; about a minute in all
MIN_CASES_PER_OPERATION = 40
# The specs' request bodies declare no required field while the guides require grant_type, the client
# credentials and a code or token; HubSpot answers 400 without them, and so does the sandbox. The listed
# departure ``spec_request_fields_optional`` is that gap: "schema-valid request rejected" is not checked.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]


class Credentials:
    """Live values from the sandbox, minted on demand (each hook call may spend one)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.calls = 0

    def code(self) -> str:
        resp = consent(self.http, authorize_url(str(self.http.base_url).rstrip("/"), scope="oauth"))
        return query_of(resp.json()["redirect_url"])["code"]

    def pair(self) -> dict[str, Any]:
        resp = self.http.post("/_sandbox/issue", json={"hub_id": FREE_HUB, "scopes": ["oauth"]})
        body: dict[str, Any] = resp.json()
        return body

    def inject_form(self, body: Any, path: str) -> Any:
        """The token, introspect and revoke forms with valid client credentials and a live code or token.
        Every other generated field (grant_type, scope, code_verifier, token_type_hint, extras) stays as
        drawn, so a missing or unsupported grant type is still sent."""
        if not isinstance(body, dict):
            return body
        self.calls += 1
        body = {**body, **CLIENT}
        if path.endswith("/token"):
            if body.get("grant_type") == "authorization_code":
                body.update(code=self.code(), redirect_uri=DEFAULT_REDIRECT_URI)
            elif body.get("grant_type") == "refresh_token":
                body["refresh_token"] = self.pair()["refresh_token"]
        elif self.calls % 3:  # introspect / revoke: a live refresh or access token, or the drawn string
            pair = self.pair()
            body["token"] = pair["refresh_token"] if self.calls % 3 == 1 else pair["access_token"]
        return body

    def inject_path(self, params: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
        """Half of the v1 metadata paths name a live token, the other half keep the generated string."""
        self.calls += 1
        if isinstance(params, dict) and "token" in params and self.calls % 2:
            kind = "access_token" if "access-tokens" in path else "refresh_token"
            params = {**params, "token": self.pair()[kind]}
        return params


def send(http: httpx.Client, case: Any, base_url: str) -> httpx.Response:
    """Send a case over the test's keep-alive httpx client (schemathesis builds the request, we send it:
    requests' separate header and body writes meet delayed ACKs on loopback, 40 ms a case)."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    data = kwargs.get("data")
    body = {"content": data} if isinstance(data, str | bytes) else {"data": data}
    return http.request(kwargs["method"], kwargs["url"], headers=kwargs.get("headers"), params=kwargs.get("params"),
                        **body)


def load(version: str, creds: Credentials) -> Any:
    spec = json.loads((CONTRACTS / SPECS[version]).read_text(encoding="utf-8"))
    schema = schemathesis.openapi.from_dict(spec)

    @schema.hook("map_body")
    def map_body(context: Any, body: Any) -> Any:
        return creds.inject_form(body, context.operation.path)

    @schema.hook("map_path_parameters")
    def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
        return creds.inject_path(path_parameters, context.operation.path)

    return schema


class Tally:
    """What one spec's run saw: cases per operation, statuses, departures, operations without negatives."""

    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.departures: Counter[str] = Counter()
        self.no_negative: list[str] = []


def fuzz(operation: Any, mode: GenerationMode, http: httpx.Client, base_url: str, tally: Tally) -> None:
    """Send ``EXAMPLES[mode]`` generated cases for one operation and check every answer."""
    method, path = operation.method.upper(), operation.path
    label = f"{method} {path}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = send(http, case, base_url)
        tally.cases[label] += 1
        tally.statuses[response.status_code] += 1
        assert response.status_code < 500, (label, response.status_code, response.text[:300])
        try:
            body = response.json()
        except ValueError:
            body = None
        key = departure_for(method, path, response.status_code, body)
        if key is not None:
            tally.departures[key] += 1
            return
        case.validate_response(response, excluded_checks=EXCLUDED_CHECKS)

    try:
        run()
    except Unsatisfiable:
        # A path-only operation has no invalid input a URL can carry: nothing negative to send.
        assert mode is GenerationMode.NEGATIVE, label
        tally.no_negative.append(label)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("version", list(SPECS))
def test_schemathesis_finds_nothing_but_the_listed_departures(sb: SandboxServer, http: httpx.Client,
                                                              version: str) -> None:
    schema = load(version, Credentials(http))
    tally = Tally()
    for result in schema.get_all_operations():
        for mode in EXAMPLES:
            fuzz(result.ok(), mode, http, sb.url, tally)
    print(f"\nschemathesis {version}: {sum(tally.cases.values())} cases; per operation {dict(tally.cases)}; "
          f"statuses {dict(tally.statuses)}; allowed departures seen {dict(tally.departures)}; "
          f"no negative cases possible for {tally.no_negative}")
    assert all(n >= MIN_CASES_PER_OPERATION for n in tally.cases.values()), tally.cases
    assert set(tally.departures) <= KEYS
    assert tally.statuses[200] + tally.statuses[204] > 0
    assert sum(n for status, n in tally.statuses.items() if 400 <= status < 500) > 0
