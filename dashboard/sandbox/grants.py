"""The token endpoint's two grants, as functions from form fields to a body (or an :class:`OAuthError`).

Order of checks: ``grant_type``, then client authentication, then the grant itself, as RFC 6749 orders
them (HubSpot documents no order).
"""

from __future__ import annotations

import hmac
from typing import Any

from .errors import OAuthError, bad_client, bad_refresh_token, missing_parameter
from .state import SandboxState
from .tokens import issue_pair, new_access_token, new_refresh_token, token_response

GRANT_TYPES = ("authorization_code", "refresh_token")


def authenticate_client(state: SandboxState, fields: dict[str, str]) -> None:
    """Check ``client_id`` / ``client_secret`` (both required) in constant time."""
    for name in ("client_id", "client_secret"):
        if not fields.get(name):
            raise missing_parameter(name, "BAD_CLIENT_ID")
    id_ok = hmac.compare_digest(fields["client_id"].encode(), state.config.client_id.encode())
    secret_ok = hmac.compare_digest(fields["client_secret"].encode(), state.config.client_secret.encode())
    if not (id_ok and secret_ok):
        raise bad_client()


def token_grant(state: SandboxState, fields: dict[str, str], version: str | None = None) -> dict[str, Any]:
    """Handle one ``POST /oauth/{v1,v3,2026-03}/token``; returns the success body for ``version``."""
    grant_type = fields.get("grant_type", "")
    if not grant_type:
        raise missing_parameter("grant_type", "BAD_GRANT_TYPE")
    if grant_type not in GRANT_TYPES:
        # client_credentials exists at HubSpot only for webhooks-journal app tokens; the sandbox has none.
        raise OAuthError("unsupported_grant_type", "BAD_GRANT_TYPE", f"unsupported grant_type '{grant_type}'")
    state.stats.token_requests[grant_type] += 1
    authenticate_client(state, fields)
    if grant_type == "authorization_code":
        return exchange_code(state, fields, version)
    return refresh(state, fields, version)


def exchange_code(state: SandboxState, fields: dict[str, str], version: str | None = None) -> dict[str, Any]:
    """``authorization_code``: a known, unused, unexpired code with the authorize request's redirect URI.

    A different redirect URI is ``invalid_grant`` / ``MISMATCH_REDIRECT_URI_AUTH_CODE``: RFC 6749 §5.2 and the
    status third-party HubSpot clients handle (fact sheet §9).
    """
    code = fields.get("code", "")
    if not code:
        raise missing_parameter("code", "BAD_AUTH_CODE")
    redirect_uri = fields.get("redirect_uri", "")
    if not redirect_uri:
        raise missing_parameter("redirect_uri", "BAD_REDIRECT_URI")
    record = state.codes.get(code)
    if record is None or record.used:
        raise OAuthError("invalid_grant", "BAD_AUTH_CODE", "missing or unknown auth code")
    if state.now() >= record.expires_at:
        raise OAuthError("invalid_grant", "EXPIRED_AUTH_CODE", "auth code is expired")
    if redirect_uri != record.redirect_uri:
        raise OAuthError(
            "invalid_grant",
            "MISMATCH_REDIRECT_URI_AUTH_CODE",
            "redirect_uri does not match the one used to obtain the auth code",
        )
    record.used = True
    return issue_pair(state, hub_id=record.hub_id, scopes=record.scopes, version=version)


def refresh(state: SandboxState, fields: dict[str, str], version: str | None = None) -> dict[str, Any]:
    """``refresh_token``: a new access token; with rotation on, a new refresh token that retires the old one.

    Access tokens issued before stay valid until they expire, as at HubSpot. With ``rotation_grace_s``
    (our choice; HubSpot documents no rotation at all), a token rotated less than that long ago whose
    successor is still unused refreshes once more and answers the same successor: a client that lost our
    answer (a crash, a timeout) recovers instead of losing the grant, like Cognito's retry grace period.
    """
    token = fields.get("refresh_token", "")
    if not token:
        raise missing_parameter("refresh_token", "BAD_REFRESH_TOKEN")
    record = state.refresh_tokens.get(token)
    if record is None:
        raise bad_refresh_token()
    if not record.install.active and state.settings.uninstall_mode == "bad_hub":
        raise OAuthError("access_denied", "BAD_HUB", "missing or unknown hub id")
    if not record.usable():
        if record.successor is None or not record.in_grace(state.now(), state.settings.rotation_grace_s):
            raise bad_refresh_token()
        state.stats.grace_reuses += 1
        successor = record.successor
    elif state.settings.rotate_refresh_tokens:
        record.active = False
        successor = new_refresh_token(state, hub_id=record.hub_id, scopes=record.scopes)
        record.retired_at, record.successor = state.now(), successor
    else:
        successor = record
    access = new_access_token(state, hub_id=record.hub_id, scopes=record.scopes)
    state.stats.refresh_by_hub[record.hub_id] += 1
    return token_response(state, access, successor, version)
