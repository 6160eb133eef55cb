"""The token API's request and response bodies (pydantic): the OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from dashboard.errors import InputError
from dashboard.hubspot.hub_ids import MAX_HUB_ID, check_hub_id, parse_hub_id
from dashboard.models import PortalStatus


def _hub_id(value: object) -> int:
    """Path text and JSON numbers through the one range check (:mod:`dashboard.hubspot.hub_ids`)."""
    try:
        if isinstance(value, str):
            return parse_hub_id(value)
        if isinstance(value, int):
            return check_hub_id(value)
    except InputError as exc:
        raise ValueError(exc.description) from None
    raise ValueError("a hub id is a whole number")


HubId = Annotated[int, Field(ge=1, le=MAX_HUB_ID, description="HubSpot's hub (account) id"), BeforeValidator(_hub_id)]


class ErrorBody(BaseModel):
    """Every error the API answers, whatever the status: a code for programs, a sentence for people."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": "not_found",
                                                               "message": "no portal 42 for this API key"}]})
    error: str = Field(description="machine-readable code, e.g. invalid_api_key, rate_limited, not_found, "
                       "needs_reauth, revoked, key_missing, undecryptable, invalid_hub_id, method_not_allowed, "
                       "database_unavailable, hubspot_unavailable, internal_error; the proxy adds bad_path, "
                       "read_only_key, body_too_large, hubspot_timeout, hubspot_unreachable")
    message: str = Field(description="one sentence for a person; never holds a token or a key")


class PortalPublic(BaseModel):
    """A portal as the API shows it: no token material."""

    hub_id: HubId
    hub_domain: str | None
    status: PortalStatus
    granted_scopes: list[str]
    expires_at: datetime | None


class PortalList(BaseModel):
    portals: list[PortalPublic]


class TokenPublic(BaseModel):
    """A valid access token for one portal."""

    hub_id: HubId
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  # the OAuth token type, not a secret
    expires_at: datetime
    expires_in: int = Field(ge=0, description="seconds until expires_at, when the answer was made")


class RefreshResult(BaseModel):
    hub_id: HubId
    result: str = Field(description="refreshed, fresh or skipped")
    expires_at: datetime | None


class UsageMinute(BaseModel):
    minute: datetime
    calls: int
    errors: int = Field(description="HubSpot's 4xx, 5xx and 429 answers")
    error_rate: float


class UsageSummary(BaseModel):
    """A portal's proxied calls over the last ``hours`` (dashboard/proxy/usage.py ``usage_summary``)."""

    hub_id: HubId
    hours: int
    calls: int
    by_status: dict[str, int] = Field(description="2xx, 4xx, 5xx, 429_proxy (ours), 429_hubspot")
    p50_ms: float | None
    p95_ms: float | None
    error_rate: float
    minutes: list[UsageMinute]
