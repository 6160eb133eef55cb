"""Token material in and out of portal rows: the only place that pairs the cipher with columns.

Both tokens of a portal are encrypted under the same key id, so one ``key_id`` column describes the row
and key rotation rewrites the row in one conditional UPDATE.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dashboard.errors import CryptoError
from dashboard.models import Portal, PortalUpdate
from dashboard.security.crypto import BINDING_LATEST, TokenCipher, associated_data

ACCESS = "access_token"
REFRESH = "refresh_token"


def fingerprint(token: str) -> str:
    """A short, non-reversible label for a token: safe to show, useless to an attacker."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class TokenPair:
    """Plaintext tokens; ``repr`` never shows them."""

    access_token: str
    refresh_token: str

    def __repr__(self) -> str:
        return f"TokenPair(access=…{fingerprint(self.access_token)}, refresh=…)"


def seal(cipher: TokenCipher, hub_id: int, tokens: TokenPair, *, app: str) -> PortalUpdate:
    """Column values for the row of connection ``(app, hub_id)`` holding ``tokens``: the newest binding."""
    binding = BINDING_LATEST
    key_id, access_ct = cipher.encrypt(tokens.access_token,
                                       aad=associated_data(hub_id, ACCESS, app=app, binding=binding))
    _, refresh_ct = cipher.encrypt(tokens.refresh_token,
                                   aad=associated_data(hub_id, REFRESH, app=app, binding=binding))
    return {
        "access_token_ct": access_ct, "refresh_token_ct": refresh_ct, "key_id": key_id, "binding": binding,
        "token_fingerprint": fingerprint(tokens.access_token),
    }


def open_tokens(cipher: TokenCipher, portal: Portal) -> TokenPair:
    """Decrypt both tokens of a row; :class:`CryptoError` when the row holds none."""
    if portal.access_token_ct is None or portal.refresh_token_ct is None or portal.key_id is None:
        raise CryptoError(f"portal {portal.hub_id} holds no tokens (revoked or never installed)")
    app, binding = portal.app, portal.binding  # the version the row was written with
    return TokenPair(
        access_token=cipher.decrypt(portal.key_id, portal.access_token_ct,
                                    aad=associated_data(portal.hub_id, ACCESS, app=app, binding=binding)),
        refresh_token=cipher.decrypt(portal.key_id, portal.refresh_token_ct,
                                     aad=associated_data(portal.hub_id, REFRESH, app=app, binding=binding)),
    )


ERASED: PortalUpdate = {"access_token_ct": None, "refresh_token_ct": None, "key_id": None}


def disconnected(portal: Portal, status: str, now: datetime) -> PortalUpdate:
    """A portal that is no longer connected (revoked, uninstalled): tokens erased, never refreshed again,
    and a new token version so a refresh in flight cannot store over it."""
    return {**ERASED, "status": status, "revoked_at": now, "updated_at": now,
            "token_version": portal.token_version + 1, "next_attempt_at": None}


class SealedAccessToken(Protocol):
    """The columns :func:`open_access_token` reads: a :class:`Portal` or a row of ``repository.token_rows``."""

    hub_id: int
    app: str
    key_id: str | None
    binding: int
    access_token_ct: str | None


def open_access_token(cipher: TokenCipher, row: SealedAccessToken) -> str:
    """Decrypt a row's access token alone (the token API's read: the refresh token stays sealed)."""
    if row.access_token_ct is None or row.key_id is None:
        raise CryptoError(f"portal {row.hub_id} holds no tokens (revoked or never installed)")
    return cipher.decrypt(row.key_id, row.access_token_ct,
                          aad=associated_data(row.hub_id, ACCESS, app=row.app, binding=row.binding))
