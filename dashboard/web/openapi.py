"""The token API described as OpenAPI 3.1, served at ``/api/v1/openapi.json``. Data only."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: dict[str, Any], *codes: tuple[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    for code, text in (("401", "missing, unknown, revoked or expired API key"),
                       ("429", "over the key's rate; see Retry-After"),
                       ("503", "database or HubSpot unavailable; see Retry-After"), *codes):
        out[code] = {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    return out


_HUB = [{"name": "hub_id", "in": "path", "required": True, "schema": {"type": "integer"}}]

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "HubSpot OAuth dashboard: token API", "version": "1",
             "description": "Fresh HubSpot access tokens for the company's services. Every response is "
                            "Cache-Control: no-store. Keys: `python -m dashboard api-keys create`."},
    "servers": [{"url": "/"}],
    "security": [{"apiKey": []}],
    "components": {
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                       "description": "Authorization: Bearer hsd_<prefix>_<secret>"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string", "description": "machine-readable reason, e.g. needs_reauth, "
                          "revoked, key_missing, undecryptable, invalid_api_key, rate_limited"},
                "message": {"type": "string"}}},
            "Portal": {"type": "object", "properties": {
                "hub_id": {"type": "integer"}, "hub_domain": {"type": ["string", "null"]},
                "status": {"type": "string", "enum": ["active", "refresh_failing", "needs_reauth", "revoked"]},
                "granted_scopes": {"type": "array", "items": {"type": "string"}},
                "expires_at": {"type": ["string", "null"], "format": "date-time"}}},
            "Token": {"type": "object", "properties": {
                "hub_id": {"type": "integer"}, "access_token": {"type": "string"},
                "token_type": {"type": "string", "const": "bearer"},
                "expires_at": {"type": "string", "format": "date-time"}, "expires_in": {"type": "integer"}}},
            "TimelineEvent": {"type": "object", "required": ["id", "at", "kind", "outcome"], "properties": {
                "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                "kind": {"type": "string"}, "outcome": {"type": "string"}, "actor": {"type": "string"},
                "detail": {"type": "string"}, "http_status": {"type": ["integer", "null"]},
                "hubspot_status": {"type": ["string", "null"]}, "hubspot_category": {"type": ["string", "null"]},
                "correlation_id": {"type": ["string", "null"]}, "answer": {"type": ["string", "null"]},
                "duration_ms": {"type": ["integer", "null"]}, "attempt": {"type": ["integer", "null"]},
                "from_state": {"type": ["string", "null"]}, "to_state": {"type": ["string", "null"]}}},
            "Timeline": {"type": "object", "properties": {
                "hub_id": {"type": "integer"},
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/TimelineEvent"}},
                "next_before": {"type": ["integer", "null"]}}},
            "RefreshResult": {"type": "object", "properties": {
                "hub_id": {"type": "integer"}, "result": {"type": "string"},
                "expires_at": {"type": ["string", "null"], "format": "date-time"}}},
        },
    },
    "paths": {
        "/api/v1/portals": {"get": {
            "summary": "Portals this key may see (no token material)",
            "responses": _responses({"type": "object", "properties": {
                "portals": {"type": "array", "items": {"$ref": "#/components/schemas/Portal"}}}})}},
        "/api/v1/portals/{hub_id}/token": {"get": {
            "summary": "A valid access token, refreshed first (under the portal's lease) when it expires within "
                       "the leeway; concurrent calls cause one refresh",
            "parameters": _HUB,
            "responses": _responses({"$ref": "#/components/schemas/Token"},
                                    ("404", "unknown portal, or not allowed for this key"),
                                    ("409", "no token can be handed out: needs_reauth, revoked, key_missing, "
                                            "undecryptable"))}},
        "/api/v1/portals/{hub_id}/refresh": {"post": {
            "summary": "Force a refresh (operator keys only)",
            "parameters": _HUB,
            "responses": _responses({"$ref": "#/components/schemas/RefreshResult"},
                                    ("403", "a reader key"), ("404", "unknown portal, or not allowed for this key"),
                                    ("409", "needs_reauth, revoked, or refresh_in_progress"))}},
        "/api/v1/portals/{hub_id}/timeline": {"get": {
            "summary": "The portal's timeline, newest first: operations, outcomes, durations, HubSpot's answers "
                       "(text fields are foreign text: escape them to show)",
            "parameters": [*_HUB, *({"name": n, "in": "query", "required": False, "schema": {"type": t},
                                     "description": d} for n, t, d in (
                ("since", "string", "ISO 8601 time or a span back from now: 90m, 24h, 7d"),
                ("limit", "integer", "1-500, default 50"),
                ("before", "integer", "the previous page's next_before"),
                ("kind", "string", "comma-separated kinds: refresh, transition, alert, ..."),
                ("outcome", "string", "comma-separated outcomes: success, failure, ...")))],
            "responses": _responses({"$ref": "#/components/schemas/Timeline"},
                                    ("400", "a parameter that is not valid"),
                                    ("404", "unknown portal, or not allowed for this key"))}},
    },
}
