"""Where the sandbox knowingly answers differently from HubSpot's OpenAPI files: the one list, with sources.

Each entry says which operation, what differs, and why the sandbox does it anyway (a HubSpot guide or a
live observation beats a generated schema). ``tests/sandbox/test_contracts.py`` and
``tests/sandbox/test_schemathesis.py`` allow exactly these and nothing else; the README links here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Departure:
    key: str
    operation: str
    what: str
    source: str


DEPARTURES = (
    Departure(
        "v1_token_four_fields", "POST /oauth/v1/token 200",
        "exactly token_type, refresh_token, access_token, expires_in: the SPEC's AccessTokenResponse also "
        "requires token_use",
        "V1GUIDE's example response (fact sheet §2); the sandbox option rich_token_body restores the rest",
    ),
    Departure(
        "revoke_200_empty", "POST /oauth/{v3,2026-03}/token/revoke 200",
        "200 with {}: the SPEC declares no success response at all (only default -> Error)",
        "fact sheet §4: success code undocumented, a third-party note reports 200",
    ),
    Departure(
        "introspect_inactive", "POST /oauth/{v3,2026-03}/token/introspect 200",
        '{"active": false} for an unknown or dead token fits neither member of TokenInfoResponseBaseIF',
        "live observation, usertour/usertour#490 (fact sheet §3)",
    ),
)

SPEC_GAPS = (
    Departure(
        "spec_request_fields_optional", "POST /oauth/{v1,v3,2026-03}/token, /token/introspect, /token/revoke",
        "the request schemas declare no required field, so a form without grant_type or client credentials is "
        "'schema-valid'; the sandbox answers 400 (invalid_request / BAD_GRANT_TYPE, BAD_CLIENT_ID) as HubSpot does",
        "V1GUIDE / V3GUIDE list the required form fields (fact sheet §2); schemathesis's positive-data check "
        "is therefore not run",
    ),
)

KEYS = frozenset(d.key for d in DEPARTURES)


V1_GUIDE_FIELDS = frozenset({"token_type", "refresh_token", "access_token", "expires_in"})


def departure_for(method: str, path: str, status: int, body: object) -> str | None:
    """The key of the listed departure a response is, recognised by its exact shape, or ``None``."""
    if (method, path, status) == ("POST", "/oauth/v1/token", 200) and isinstance(body, dict) \
            and set(body) == V1_GUIDE_FIELDS:
        return "v1_token_four_fields"
    if method == "POST" and path.endswith("/token/revoke") and status == 200 and body == {}:
        return "revoke_200_empty"
    if method == "POST" and path.endswith("/token/introspect") and status == 200 and body == {"active": False}:
        return "introspect_inactive"
    return None
