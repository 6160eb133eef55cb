"""Pure HubSpot OAuth protocol: requests to build and responses to parse. No I/O here.

Each OAuth API version (``2026-03``, ``v3``, legacy ``v1``) is a :class:`ApiFlavor`: the differences are
named hooks (paths, how introspection and revocation are sent), not ``if`` chains in the client.
Errors are mapped to the one exception tree here, from status code and body, never quoting a token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from dashboard.errors import (
    ApiAuthError,
    HubSpotError,
    InvalidClientError,
    InvalidGrantError,
    ProtocolError,
    RateLimitedError,
    RedirectUriMismatchError,
    TransientError,
)
from dashboard.hubspot.answers import kept_answer

INVALID_GRANT_STATUSES = frozenset({"BAD_REFRESH_TOKEN", "BAD_AUTH_CODE", "EXPIRED_AUTH_CODE", "BAD_HUB"})
# HubSpot documents none of these; third-party clients handle the first (fact sheet §9), older answers the second.
REDIRECT_MISMATCH_STATUSES = frozenset({"MISMATCH_REDIRECT_URI_AUTH_CODE", "BAD_REDIRECT_URI"})


@dataclass(frozen=True)
class Request:
    """One HTTP request to HubSpot, described as data."""

    method: str
    path: str
    form: dict[str, str] | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    operation: str = ""

    def __repr__(self) -> str:  # the form holds secrets and tokens
        return f"Request({self.method} {self.operation or 'api'})"


@dataclass(frozen=True)
class TokenResponse:
    """A successful token grant. ``refresh_token`` is None when HubSpot omitted it."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    hub_id: int | None
    scopes: tuple[str, ...]
    user_id: int | None
    token_type: str

    def __repr__(self) -> str:
        return f"TokenResponse(hub_id={self.hub_id}, expires_in={self.expires_in}, scopes={len(self.scopes)})"


@dataclass(frozen=True)
class TokenInfo:
    """Token metadata from introspection (2026-03/v3) or the v1 metadata endpoints. Never the token."""

    active: bool
    hub_id: int | None = None
    hub_domain: str | None = None
    user: str | None = None
    user_id: int | None = None
    app_id: int | None = None
    scopes: tuple[str, ...] = ()
    expires_in: int | None = None
    token_use: str | None = None


@dataclass(frozen=True)
class ApiFlavor:
    """How one OAuth API version spells each operation."""

    name: str
    token_path: str
    introspect_path: str | None  # None: v1 uses the path-based metadata GETs
    revoke_path: str | None  # None: v1 uses DELETE /oauth/v1/refresh-tokens/{token}
    appinstalls_version: str = "v3"  # the App uninstalls API has v3 (legacy) and 2026-03 paths

    def token_request(self, form: dict[str, str], operation: str) -> Request:
        return Request("POST", self.token_path, form=form, operation=operation)

    def introspect_request(self, creds: dict[str, str], token: str, hint: str) -> Request:
        if self.introspect_path is None:
            kind = "access-tokens" if hint == "access_token" else "refresh-tokens"
            return Request("GET", f"/oauth/v1/{kind}/{quote(token, safe='')}", operation="introspect")
        form = {**creds, "token": token, "token_type_hint": hint}
        return Request("POST", self.introspect_path, form=form, operation="introspect")

    def revoke_request(self, creds: dict[str, str], refresh_token: str) -> Request:
        if self.revoke_path is None:
            return Request("DELETE", f"/oauth/v1/refresh-tokens/{quote(refresh_token, safe='')}",
                           operation="revoke")
        form = {**creds, "token": refresh_token, "token_type_hint": "refresh_token"}
        return Request("POST", self.revoke_path, form=form, operation="revoke")

    def uninstall_request(self, access_token: str) -> Request:
        """HubSpot's App uninstalls API: the access token names the account."""
        return Request("DELETE", f"/appinstalls/{self.appinstalls_version}/external-install",
                       headers={"Authorization": f"Bearer {access_token}"}, operation="app uninstall")


FLAVORS: dict[str, ApiFlavor] = {
    "2026-03": ApiFlavor("2026-03", "/oauth/2026-03/token", "/oauth/2026-03/token/introspect",
                         "/oauth/2026-03/token/revoke", "2026-03"),
    "v3": ApiFlavor("v3", "/oauth/v3/token", "/oauth/v3/token/introspect", "/oauth/v3/token/revoke"),
    "v1": ApiFlavor("v1", "/oauth/v1/token", None, None),
}


def code_exchange_form(*, client_id: str, client_secret: str, code: str, redirect_uri: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret,
            "redirect_uri": redirect_uri, "code": code}


def refresh_form(*, client_id: str, client_secret: str, refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
            "refresh_token": refresh_token}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("HubSpot sent a response that is not valid JSON") from None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_token_response(body: bytes) -> TokenResponse:
    """Parse a 200 token response; missing or ill-typed required fields are a :class:`ProtocolError`."""
    data = _json(body)
    if not isinstance(data, dict):
        raise ProtocolError("HubSpot's token response is not a JSON object")
    access, expires = data.get("access_token"), _int_or_none(data.get("expires_in"))
    if not isinstance(access, str) or not access or expires is None:
        raise ProtocolError("HubSpot's token response lacks access_token or expires_in")
    refresh = data.get("refresh_token")
    scopes = data.get("scopes") or []
    return TokenResponse(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_in=expires,
        hub_id=_int_or_none(data.get("hub_id")),
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        user_id=_int_or_none(data.get("user_id")),
        token_type=str(data.get("token_type", "bearer")),
    )


def parse_token_info(body: bytes) -> TokenInfo:
    """Parse introspection (``active`` present) or v1 metadata (no ``active``: a 200 means active)."""
    data = _json(body)
    if not isinstance(data, dict):
        raise ProtocolError("HubSpot's token metadata is not a JSON object")
    scopes = data.get("scopes") or []
    return TokenInfo(
        active=bool(data.get("active", True)),
        hub_id=_int_or_none(data.get("hub_id")),
        hub_domain=data.get("hub_domain") if isinstance(data.get("hub_domain"), str) else None,
        user=data.get("user") if isinstance(data.get("user"), str) else None,
        user_id=_int_or_none(data.get("user_id")),
        app_id=_int_or_none(data.get("app_id")),
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        expires_in=_int_or_none(data.get("expires_in")),
        token_use=data.get("token_use") if isinstance(data.get("token_use"), str) else None,
    )


def _retry_after(headers: dict[str, str]) -> float | None:
    raw = headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def error_from_response(status: int, body: bytes, headers: dict[str, str], operation: str) -> HubSpotError:
    """Map a non-2xx response to our exception tree, keeping HubSpot's fields (``answer``, redacted)."""
    err = _error_from_response(status, body, headers, operation)
    err.answer = kept_answer(status, body)
    return err


def _error_from_response(status: int, body: bytes, headers: dict[str, str], operation: str) -> HubSpotError:
    """Map a non-2xx response to our exception tree. Texts come from HubSpot's error fields only."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    data = data if isinstance(data, dict) else {}
    error = str(data.get("error") or "")
    hs_status = str(data.get("status") or data.get("category") or "") or None
    text = str(data.get("error_description") or data.get("message") or "")[:200]
    what = f"HubSpot {operation}" if operation else "HubSpot"
    if status == 429:
        return RateLimitedError(f"{what} was rate limited (429); it will be retried later",
                                retry_after=_retry_after(headers), hubspot_status=hs_status)
    if status >= 500 or status in (408, 423, 477):
        return TransientError(f"{what} failed with HTTP {status}; HubSpot may be having trouble",
                              status=status, hubspot_status=hs_status)
    if hs_status in REDIRECT_MISMATCH_STATUSES:
        return RedirectUriMismatchError(
            f"{what}: HubSpot says the redirect URI does not match the authorize request's ({hs_status})",
            status=status, hubspot_status=hs_status)
    if error == "invalid_grant" or hs_status in INVALID_GRANT_STATUSES:
        return InvalidGrantError(
            f"{what}: the grant is no longer valid ({hs_status or error}: {text or 'invalid grant'}); "
            "the portal must be reconnected", status=status, hubspot_status=hs_status)
    if error == "invalid_client" or hs_status == "BAD_CLIENT_ID":
        return InvalidClientError(
            f"{what}: HubSpot rejected the app's client id or secret; check HUBSPOT_CLIENT_ID and "
            "HUBSPOT_CLIENT_SECRET", status=status, hubspot_status=hs_status)
    if status in (401, 403):
        return ApiAuthError(f"{what} was refused (HTTP {status}, {hs_status or 'unauthorized'}): {text}",
                            status=status, hubspot_status=hs_status)
    return HubSpotError(f"{what} failed (HTTP {status}, {hs_status or error or 'error'}): {text}",
                        status=status, hubspot_status=hs_status)
