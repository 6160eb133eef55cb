"""Minting codes and tokens that look like HubSpot's, and the token endpoint's success body.

* Access tokens: opaque, 300-400 characters (HubSpot says to plan for up to 512; older pages said 300).
* Refresh tokens and codes: ``na1-xxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`` (V3GUIDE's examples; ``na1`` is the
  hublet).
"""

from __future__ import annotations

import secrets
from typing import Any

from .fidelity import token_fields
from .state import AccessToken, AuthCode, RefreshToken, SandboxState

HUBLET = "na1"


def hublet_token() -> str:
    """A ``na1-xxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`` string from the system CSPRNG."""
    hexes = [secrets.token_hex(2) for _ in range(4)]
    return f"{HUBLET}-{'-'.join(hexes)}-{secrets.token_hex(6)}"


def access_token_string() -> str:
    """An opaque access token of 300-400 URL-safe characters; HubSpot's start with ``C``."""
    length = 300 + secrets.randbelow(101)
    return "C" + secrets.token_urlsafe(300)[: length - 1]


def new_code(state: SandboxState, *, hub_id: int, scopes: tuple[str, ...], redirect_uri: str) -> AuthCode:
    """Store and return a fresh authorization code for an approved install."""
    record = AuthCode(
        code=hublet_token(),
        hub_id=hub_id,
        scopes=scopes,
        redirect_uri=redirect_uri,
        expires_at=state.now() + state.settings.code_ttl,
    )
    state.codes[record.code] = record
    return record


def new_access_token(state: SandboxState, *, hub_id: int, scopes: tuple[str, ...]) -> AccessToken:
    """Store and return an access token under the account's current installation."""
    now = state.now()
    record = AccessToken(
        token=access_token_string(),
        hub_id=hub_id,
        scopes=scopes,
        install=state.install(hub_id),
        issued_at=now,
        expires_at=now + state.settings.access_token_ttl,
    )
    state.access_tokens[record.token] = record
    return record


def new_refresh_token(state: SandboxState, *, hub_id: int, scopes: tuple[str, ...]) -> RefreshToken:
    """Store and return a refresh token under the account's current installation."""
    record = RefreshToken(
        token=hublet_token(),
        hub_id=hub_id,
        scopes=scopes,
        install=state.install(hub_id),
        issued_at=state.now(),
    )
    state.refresh_tokens[record.token] = record
    return record


def token_response(
    state: SandboxState, access: AccessToken, refresh: RefreshToken, version: str | None = None
) -> dict[str, Any]:
    """The success body of the token endpoint for ``version`` (``fidelity.token_fields``)."""
    body = {
        "token_type": "bearer",
        "token_use": "access_token",
        "access_token": access.token,
        "refresh_token": refresh.token,
        "expires_in": state.settings.access_token_ttl,
        "hub_id": access.hub_id,
        "scopes": list(access.scopes),
        "user_id": state.accounts[access.hub_id].user_id,
    }
    return {name: body[name] for name in token_fields(version, rich=state.settings.rich_token_body)}


def issue_pair(
    state: SandboxState, *, hub_id: int, scopes: tuple[str, ...], version: str | None = None
) -> dict[str, Any]:
    """Mint an access + refresh token pair (a code exchange, or ``POST /_sandbox/issue`` with no version)."""
    access = new_access_token(state, hub_id=hub_id, scopes=scopes)
    refresh = new_refresh_token(state, hub_id=hub_id, scopes=scopes)
    return token_response(state, access, refresh, version)
