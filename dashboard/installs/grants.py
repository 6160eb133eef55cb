"""Tokens HubSpot has just granted, into the vault: name their account, then write the portal row.

An install, a resumed pending install and an imported token response all end here. HubSpot's v1 token body
names neither the account nor the granted scopes (V1GUIDE), so :func:`identify` falls back to the token
metadata; :func:`store_tokens` writes (or rewrites) the portal in one audited transaction, unless the
install was pinned to another account (:func:`refuse_other_account`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError, InstallError, ProtocolError
from dashboard.hubspot import protocol
from dashboard.hubspot.protocol import TokenInfo
from dashboard.lifecycle.machine import HealthEvent
from dashboard.lifecycle.transitions import plan, write_transition
from dashboard.models import InstallAttempt, Portal, PortalStatus, utcnow
from dashboard.security import audit, vault
from dashboard.webhooks import transitions

Identity = tuple[int, tuple[str, ...], TokenInfo | None]
"""The hub id, the granted scopes and (when it was asked) the token metadata of fresh tokens."""


@dataclass(frozen=True)
class InstallResult:
    hub_id: int
    hub_domain: str | None
    granted_scopes: tuple[str, ...]
    dropped_optional_scopes: tuple[str, ...]
    reinstall: bool
    added_scopes: tuple[str, ...] = ()
    removed_scopes: tuple[str, ...] = ()


def identify(ctx: AppContext, tokens: protocol.TokenResponse) -> Identity:
    """The account and granted scopes of fresh tokens: from the token body, else from token metadata.

    HubSpot's v1 body names neither (V1GUIDE), so metadata is asked (the client retries transient failures);
    when the access token is no longer active (a late retry), the refresh token's metadata names them too.
    :class:`ProtocolError` when neither is known.
    """
    try:
        info: TokenInfo | None = ctx.hubspot.introspect(tokens.access_token)
        if info is not None and not info.active and tokens.refresh_token:
            info = ctx.hubspot.introspect(tokens.refresh_token, hint="refresh_token")
    except DashboardError as exc:
        if tokens.hub_id is not None and tokens.scopes:
            return tokens.hub_id, tokens.scopes, None  # metadata is a nicety here
        raise ProtocolError(f"HubSpot's token response names no hub id or scopes, and the token metadata "
                            f"lookup failed: {exc.description}") from exc
    usable = info if info is not None and info.active else None
    hub_id = tokens.hub_id or (usable.hub_id if usable else None)
    granted = tokens.scopes or (usable.scopes if usable else ())
    if hub_id is None or not granted:
        raise ProtocolError("HubSpot's token response names no hub id or scopes, and its token metadata "
                            "says the tokens are not active")
    return hub_id, granted, usable


def store_tokens(ctx: AppContext, actor: Actor, tokens: protocol.TokenResponse, attempt: InstallAttempt | None,
                 *, action: str, identity: Identity) -> InstallResult:
    """Write (or rewrite) the portal row for freshly granted ``tokens``; one audited transaction."""
    assert tokens.refresh_token is not None
    hub_id, granted, info = identity
    requested_optional = tuple(attempt.optional_scopes.split()) if attempt else ()
    dropped = tuple(s for s in requested_optional if s not in granted)
    pair = vault.TokenPair(tokens.access_token, tokens.refresh_token)
    now = utcnow()
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hub_id)
        reinstall = portal is not None
        change = plan(portal, HealthEvent.GRANTED, now, hub_id=hub_id)
        old = set(portal.granted_scopes.split()) if portal else set()
        if portal is None:
            portal = Portal(app=ctx.app_id, hub_id=hub_id, created_at=now)
        portal.hub_domain = info.hub_domain if info and info.hub_domain else portal.hub_domain
        portal.app_id = info.app_id if info and info.app_id else portal.app_id
        portal.installed_by = info.user if info and info.user else (portal.installed_by or actor.name)
        portal.user_id = tokens.user_id or (info.user_id if info else None) or portal.user_id
        if attempt is not None:
            portal.requested_scopes = attempt.required_scopes
            portal.requested_optional_scopes = attempt.optional_scopes
        portal.granted_scopes = " ".join(sorted(granted))
        for key, value in vault.seal(ctx.cipher, hub_id, pair, app=ctx.app_id).items():
            setattr(portal, key, value)
        portal.status = PortalStatus.ACTIVE
        portal.failing_since = None
        portal.expires_at = now + timedelta(seconds=tokens.expires_in)
        portal.last_refresh_result, portal.last_error = None, None
        portal.consecutive_failures, portal.next_attempt_at = 0, None
        portal.token_version = (portal.token_version or 0) + 1
        portal.installed_at, portal.revoked_at, portal.updated_at = now, None, now
        repository.save_portal(session=session, portal=portal)
        added = tuple(sorted(set(granted) - old)) if reinstall else ()
        removed = tuple(sorted(old - set(granted))) if reinstall else ()
        scope_change = f"; scope change +{' '.join(added) or '-'} -{' '.join(removed) or '-'}" if reinstall else ""
        kind = action if action != "install" else ("reinstall" if reinstall else "install")
        audit.record(session, actor=actor.name, action=kind, outcome="success", hub_id=hub_id,
                     detail=f"granted={len(granted)} scopes; dropped optional={' '.join(dropped) or '-'}{scope_change}")
        write_transition(session, change, actor=actor.name, cause=f"{kind}: a new grant", at=now)
        transitions.granted(session, portal, reinstall=reinstall, added=added, removed=removed, action=kind)
        session.commit()
    return InstallResult(hub_id=hub_id, hub_domain=portal.hub_domain, granted_scopes=tuple(sorted(granted)),
                         dropped_optional_scopes=dropped, reinstall=reinstall, added_scopes=added,
                         removed_scopes=removed)


def refuse_other_account(ctx: AppContext, actor: Actor, tokens: protocol.TokenResponse, *, pinned: int,
                          reported: int) -> NoReturn:
    """An install pinned to one account that HubSpot granted for another: nothing is stored.

    Editing ``/oauth/{accountId}/authorize`` out of the URL lets the consent page offer every account the
    user can reach; without this check a link for one customer could reinstall another portal with other
    scopes. The refused grant's refresh token is revoked at HubSpot (that deletes only the token: the app
    stays installed there, and its other tokens keep working), so no usable grant is left unstored.
    """
    revoked = False
    if tokens.refresh_token:
        try:
            revoked = ctx.hubspot.revoke(tokens.refresh_token)
        except DashboardError:
            revoked = False
    with ctx.session() as session:
        audit.record(session, actor=actor.name, action="install.callback", outcome="rejected", hub_id=reported,
                     detail=f"account pin: the install was pinned to hub {pinned}, HubSpot granted hub "
                            f"{reported}; nothing stored; the refused refresh token "
                            f"{'was revoked' if revoked else 'could not be revoked'}")
        session.commit()
    raise InstallError(
        f"This install was for HubSpot account {pinned}, but HubSpot connected account {reported}. Nothing was "
        f"changed. To connect account {pinned}, open the link again and choose that account on HubSpot's page; "
        f"to connect account {reported}, ask the sender for a link for it.", code="account_mismatch")
