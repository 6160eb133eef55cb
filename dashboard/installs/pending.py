"""Pending installs: tokens HubSpot granted for an install that could not be finished yet.

A code exchange spends the single-use code, so once HubSpot answered, its tokens *are* the grant. When the
account cannot be named (HubSpot's v1 token body carries no ``hub_id`` or scopes, and the metadata lookup
failed), the tokens are kept here, encrypted and bound to a random ``ref``, until a retry from the New
install or Connections page, or ``python -m dashboard install resume ID``, finishes the install
(:func:`dashboard.installs.flow.finish_pending_install`). Listing shows no token material.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import NotFoundError
from dashboard.hubspot.protocol import TokenResponse
from dashboard.models import InstallAttempt, PendingInstall, utcnow
from dashboard.security.crypto import TokenCipher
from dashboard.security.guard import require
from dashboard.security.vault import TokenPair

ACCESS, REFRESH = "access_token", "refresh_token"


def _aad(ref: str, field: str) -> bytes:
    """Pending ciphertexts are bound to their record and column, as portal ones are to hub and column."""
    return f"hubspot-pending-install:{ref}:{field}".encode()


@dataclass(frozen=True)
class PendingInstallPublic:
    """What people see of a pending install: never a token."""

    id: int
    hub_id: int | None
    actor: str
    created_at: datetime | None
    attempts: int
    last_error: str
    required_scopes: tuple[str, ...]
    optional_scopes: tuple[str, ...]


def _public(record: PendingInstall) -> PendingInstallPublic:
    assert record.id is not None
    return PendingInstallPublic(record.id, record.hub_id, record.actor, record.created_at, record.attempts,
                                record.last_error, tuple(record.required_scopes.split()),
                                tuple(record.optional_scopes.split()))


def keep(ctx: AppContext, *, actor: Actor, tokens: TokenResponse, attempt: InstallAttempt | None,
         error: str) -> PendingInstallPublic:
    """Store ``tokens`` encrypted as a pending install; the caller audits."""
    assert tokens.refresh_token is not None
    ref = secrets.token_hex(16)
    key_id, access_ct = ctx.cipher.encrypt(tokens.access_token, aad=_aad(ref, ACCESS))
    _, refresh_ct = ctx.cipher.encrypt(tokens.refresh_token, aad=_aad(ref, REFRESH))
    now = utcnow()
    record = PendingInstall(
        ref=ref, access_token_ct=access_ct, refresh_token_ct=refresh_ct, key_id=key_id, hub_id=tokens.hub_id,
        required_scopes=attempt.required_scopes if attempt else "",
        optional_scopes=attempt.optional_scopes if attempt else "", actor=actor.name, last_error=error[:500],
        expires_at=now + timedelta(seconds=tokens.expires_in), created_at=now, updated_at=now)
    with ctx.session() as session:
        repository.add_pending_install(session=session, record=record)
        session.commit()
        session.refresh(record)
    return _public(record)


def list_pending(ctx: AppContext, *, actor: Actor) -> list[PendingInstallPublic]:
    """Every pending install, oldest first."""
    require(ctx.engine, actor, "view", action="install.pending")
    with ctx.session() as session:
        return [_public(r) for r in repository.list_pending_installs(session=session)]


@dataclass(frozen=True)
class OpenedPending:
    """A pending install's tokens as a token response, and the attempt it came from (scopes asked)."""

    tokens: TokenResponse
    attempt: InstallAttempt


def open_pending(ctx: AppContext, pending_id: int) -> OpenedPending:
    """Decrypt one pending install; :class:`NotFoundError` when it is gone (finished meanwhile)."""
    with ctx.session() as session:
        record = repository.get_pending_install(session=session, pending_id=pending_id)
    if record is None:
        raise NotFoundError(f"no pending install #{pending_id} (finished already, or never kept)")
    cipher: TokenCipher = ctx.cipher
    pair = TokenPair(cipher.decrypt(record.key_id, record.access_token_ct, aad=_aad(record.ref, ACCESS)),
                     cipher.decrypt(record.key_id, record.refresh_token_ct, aad=_aad(record.ref, REFRESH)))
    left = int((record.expires_at - utcnow()).total_seconds()) if record.expires_at else 0
    tokens = TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token,
                           expires_in=max(0, left), hub_id=record.hub_id, scopes=(), user_id=None,
                           token_type="bearer")  # noqa: S106 - the token type, not a secret
    # Not added to any session: it only carries the scopes the install asked for into the portal row.
    attempt = InstallAttempt(state_hash="", required_scopes=record.required_scopes,
                             optional_scopes=record.optional_scopes, redirect_uri="", actor=record.actor)
    return OpenedPending(tokens, attempt)


def note_failure(ctx: AppContext, pending_id: int, error: str) -> None:
    """Count one more failed attempt to finish."""
    with ctx.session() as session:
        repository.note_pending_failure(session=session, pending_id=pending_id, error=error[:500], now=utcnow())
        session.commit()


def forget(ctx: AppContext, pending_id: int) -> None:
    """Delete a finished pending install (its tokens now live in the portal row)."""
    with ctx.session() as session:
        repository.delete_pending_install(session=session, pending_id=pending_id)
        session.commit()
