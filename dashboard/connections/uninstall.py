"""Uninstall the app from a customer's HubSpot account: the real "disconnect" for support staff.

Revoking a refresh token leaves the app installed in the account; HubSpot's App uninstalls API
(``DELETE /appinstalls/2026-03/external-install`` with the account's access token, 204) removes it, kills
the install's tokens and emails the account's super admins. Admin only. The access token is refreshed
first when it is expired (or expiring), and once more if HubSpot answers 401. Afterwards the portal is
marked ``uninstalled``: its tokens erased, the row kept for the audit trail, left out of listings.
"""

from __future__ import annotations

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import ApiAuthError, DashboardError, InputError
from dashboard.lifecycle.machine import HealthEvent
from dashboard.lifecycle.transitions import plan, write_transition
from dashboard.models import PortalStatus, utcnow
from dashboard.refresh.service import get_access_token, refresh_portal
from dashboard.security import audit, vault
from dashboard.security.guard import require
from dashboard.webhooks import transitions


def uninstall_from_account(ctx: AppContext, hub_id: int, *, actor: Actor) -> None:
    """Uninstall the app from ``hub_id``'s account at HubSpot, then mark the portal uninstalled."""
    require(ctx.engine, actor, "revoke", action="uninstall", hub_id=hub_id)
    with ctx.session() as session:
        portal = repository.portal_or_not_found(session=session, hub_id=hub_id)
    if portal.status == PortalStatus.UNINSTALLED:
        raise InputError(f"hub {hub_id} was already uninstalled from its HubSpot account")
    if portal.refresh_token_ct is None:
        raise InputError(f"hub {hub_id} holds no tokens (revoked), so this dashboard cannot act in its account; "
                         "ask the account's admin to uninstall the app in HubSpot's Connected apps settings")
    try:
        _call(ctx, hub_id, actor)
    except DashboardError as exc:
        with ctx.session() as session:
            audit.record(session, actor=actor.name, action="uninstall", outcome="failure", hub_id=hub_id,
                         detail=exc.description[:500])
            session.commit()
        raise exc.reworded(f"uninstalling at HubSpot failed, nothing was changed here: {exc.description}") from exc
    now = utcnow()
    change = plan(portal, HealthEvent.UNINSTALLED, now)
    with ctx.session() as session:
        repository.update_portal(session=session, hub_id=hub_id,
                                 values={**vault.disconnected(portal, PortalStatus.UNINSTALLED, now),
                                         **change.values})
        write_transition(session, change, actor=actor.name, cause="uninstalled from the HubSpot account", at=now)
        audit.record(session, actor=actor.name, action="uninstall", outcome="success", hub_id=hub_id,
                     detail="app uninstalled from the HubSpot account (HubSpot emails its super admins); "
                            "tokens erased here")
        transitions.disconnected(session, portal, PortalStatus.UNINSTALLED, reason="uninstalled from the account")
        session.commit()


def _call(ctx: AppContext, hub_id: int, actor: Actor) -> None:
    """The API call with a fresh access token (``get_access_token`` refreshes an expired one first)."""
    try:
        ctx.hubspot.uninstall_app(get_access_token(ctx, hub_id, actor=actor))
    except ApiAuthError as exc:
        if exc.status != 401:
            raise
        refresh_portal(ctx, hub_id, actor=actor, force=True)
        ctx.hubspot.uninstall_app(get_access_token(ctx, hub_id, actor=actor))
