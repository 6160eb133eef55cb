"""Token metadata and revocation: v1's path-based GET/DELETE, v3/2026-03's body-based introspect/revoke.

Bodies follow the specs' ``AccessTokenInfoResponse`` / ``RefreshTokenInfoResponse`` (v1) and
``PublicAccessTokenInfoResponse`` / ``PublicRefreshTokenInfoResponse`` (introspect).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .errors import OAuthError, bad_refresh_token, missing_parameter
from .grants import authenticate_client
from .state import AccessToken, RefreshToken, SandboxState
from .tokens import HUBLET

INACTIVE: dict[str, Any] = {"active": False}


def _live_access(state: SandboxState, token: str) -> AccessToken | None:
    record = state.access_tokens.get(token)
    if record is None or not record.install.active or state.now() >= record.expires_at:
        return None
    return record


def _live_refresh(state: SandboxState, token: str) -> RefreshToken | None:
    record = state.refresh_tokens.get(token)
    return record if record is not None and record.usable() else None


def _opaque(*parts: object) -> str:
    """A stable opaque string standing in for HubSpot's signatures and scope-group encodings."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _owner_fields(state: SandboxState, hub_id: int, scopes: tuple[str, ...]) -> dict[str, Any]:
    account = state.accounts[hub_id]
    return {
        "hub_id": hub_id,
        "hub_domain": account.domain,
        "user": account.user_email,
        "user_id": account.user_id,
        "scopes": list(scopes),
    }


def _signed_access_token(state: SandboxState, record: AccessToken) -> dict[str, Any]:
    account = state.accounts[record.hub_id]
    return {
        "appId": state.config.app_id,
        "appInstallId": record.install.install_id,
        "audience": state.config.client_id,
        "expiresAt": int(record.expires_at * 1000),
        "hubId": record.hub_id,
        "hublet": HUBLET,
        "installingUserId": account.user_id,
        "isPrivateDistribution": False,
        "isServiceAccount": False,
        "isUserLevel": False,
        "newSignature": _opaque("new", record.token),
        "scopeToScopeGroupPks": _opaque("pks", *record.scopes),
        "scopes": _opaque("scopes", *record.scopes),
        "signature": _opaque("sig", record.token),
        "trialScopeToScopeGroupPks": "",
        "trialScopes": "",
        "userId": account.user_id,
    }


def _access_body(state: SandboxState, record: AccessToken) -> dict[str, Any]:
    return {
        "token": record.token,
        **_owner_fields(state, record.hub_id, record.scopes),
        "app_id": state.config.app_id,
        "expires_in": max(0, int(record.expires_at - state.now())),
        "is_private_distribution": False,
        "signed_access_token": _signed_access_token(state, record),
    }


def _not_found(status: str, kind: str) -> OAuthError:
    """An unknown or dead token on a v1 metadata path: 404 with the SPEC's ``Error`` body (its ``default``
    response) plus the OAuth fields; a path naming nothing is not found, not a bad request."""
    return OAuthError("invalid_grant", status, f"{kind} token not found, expired or revoked", http_status=404,
                      category="OBJECT_NOT_FOUND")


def _dead_revoke(state: SandboxState) -> None:
    """Revoking a token that is already dead: success by default, else the configured 4xx."""
    status = state.settings.revoke_dead_token_status
    if status >= 400:
        error = bad_refresh_token()
        error.http_status = status
        raise error


def access_info_v1(state: SandboxState, token: str) -> dict[str, Any]:
    """``GET /oauth/v1/access-tokens/{token}``; V1GUIDE's ``token_type`` is ``"access"``."""
    record = _live_access(state, token)
    if record is None:
        raise _not_found("BAD_ACCESS_TOKEN", "access")
    return {**_access_body(state, record), "token_type": "access"}


def refresh_info_v1(state: SandboxState, token: str) -> dict[str, Any]:
    """``GET /oauth/v1/refresh-tokens/{token}``."""
    record = _live_refresh(state, token)
    if record is None:
        raise _not_found("BAD_REFRESH_TOKEN", "refresh")
    return {
        "token": record.token,
        **_owner_fields(state, record.hub_id, record.scopes),
        "client_id": state.config.client_id,
        "token_type": "refresh",
    }


def delete_refresh_v1(state: SandboxState, token: str) -> None:
    """``DELETE /oauth/v1/refresh-tokens/{token}``: only the refresh token dies; access tokens live on."""
    record = _live_refresh(state, token)
    if record is None:
        _dead_revoke(state)
        return
    record.active = False


def _token_field(fields: dict[str, str]) -> tuple[str, str | None]:
    """The token and its hint. SPEC sends ``token=``; V3GUIDE's prose sends ``access_token=`` or
    ``refresh_token=`` (fact sheet §3 notes the discrepancy), so both are accepted."""
    if fields.get("token"):
        return fields["token"], fields.get("token_type_hint") or None
    for kind in ("access_token", "refresh_token"):
        if fields.get(kind):
            return fields[kind], kind
    raise missing_parameter("token", "BAD_REQUEST")


def introspect(state: SandboxState, fields: dict[str, str]) -> dict[str, Any]:
    """``POST /oauth/{v3,2026-03}/token/introspect``: unknown or dead tokens are ``{"active": false}``."""
    authenticate_client(state, fields)
    token, _hint = _token_field(fields)
    # Token strings of both kinds never collide, so the hint need not steer the lookup.
    if (access := _live_access(state, token)) is not None:
        return {
            "active": True,
            **_access_body(state, access),
            "client_id": state.config.client_id,
            "token_type": "Bearer",
            "token_use": "access_token",
        }
    if (refresh := _live_refresh(state, token)) is not None:
        return {
            "active": True,
            "token": refresh.token,
            **_owner_fields(state, refresh.hub_id, refresh.scopes),
            "app_id": state.config.app_id,
            "client_id": state.config.client_id,
            "token_type": "refresh",
            "token_use": "refresh_token",
        }
    return dict(INACTIVE)


def revoke(state: SandboxState, fields: dict[str, str]) -> None:
    """``POST /oauth/{v3,2026-03}/token/revoke``: revokes a refresh token.

    Unknown and dead tokens are accepted silently by default (RFC 7009 §2.2; HubSpot documents nothing),
    or answered with ``revoke_dead_token_status``. Access tokens are accepted silently (RFC 7009 too).
    """
    authenticate_client(state, fields)
    token, _hint = _token_field(fields)
    if token in state.access_tokens:
        return
    record = _live_refresh(state, token)
    if record is None:
        _dead_revoke(state)
        return
    record.active = False
