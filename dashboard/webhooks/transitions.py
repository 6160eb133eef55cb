"""Which event each of today's state changes emits: one call per write path, inside its transaction.

The rules mirror the alerts' (dashboard/webhooks/alerts.py): ``refresh_failed`` once, when the consecutive failures
reach ``DASHBOARD_ALERT_FAILURE_THRESHOLD``; ``key_problem`` once per problem; ``needs_reauth`` on entering
that status; ``recovered`` when a refresh succeeds after one of those. Each decides in Python first, so a
write that reports nothing (most refreshes) costs no query. The health state machine (issue 23) will make
these calls from its single transition function instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from dashboard.models import Portal, PortalStatus
from dashboard.webhooks import events
from dashboard.webhooks.outbox import portal_event

KEY_PROBLEMS = ("key_missing", "undecryptable")


def granted(session: Session, portal: Portal, *, reinstall: bool, added: Sequence[str], removed: Sequence[str],
            action: str) -> None:
    """Tokens granted: ``connection.created`` for a first install, else ``reauthorized``; ``scopes_changed``
    too when a new grant of a known portal changed its scopes."""
    portal_event(session, events.REAUTHORIZED if reinstall else events.CREATED, portal, reason=action)
    if added or removed:
        portal_event(session, events.SCOPES_CHANGED, portal, reason=action,
                     extra={"added_scopes": list(added), "removed_scopes": list(removed)})


def refreshed(session: Session, portal: Portal, values: Mapping[str, Any], *, threshold: int) -> None:
    """A refresh stored new tokens (``portal`` as read before): ``recovered``, ``scopes_changed`` when due."""
    scopes = str(values.get("granted_scopes", portal.granted_scopes)).split()
    if portal.status == PortalStatus.NEEDS_REAUTH or portal.consecutive_failures >= threshold or \
            portal.last_refresh_result in KEY_PROBLEMS:
        portal_event(session, events.RECOVERED, portal, reason="refresh succeeded", status=PortalStatus.ACTIVE,
                     scopes=scopes)
    if "granted_scopes" in values:
        old, new = set(portal.granted_scopes.split()), set(scopes)
        portal_event(session, events.SCOPES_CHANGED, portal, reason="refresh", status=PortalStatus.ACTIVE,
                     scopes=scopes, extra={"added_scopes": sorted(new - old), "removed_scopes": sorted(old - new)})


def refresh_failed(session: Session, portal: Portal, values: Mapping[str, Any], *, kind: str, reauth: bool,
                   threshold: int) -> None:
    """A failed refresh was recorded (``portal`` as read before, ``values`` what was written)."""
    failures = int(values["consecutive_failures"])
    extra = {"error_code": kind, "consecutive_failures": failures}
    status, reason = str(values["status"]), str(values["last_error"] or kind)
    if reauth:
        if portal.status != PortalStatus.NEEDS_REAUTH:
            portal_event(session, events.NEEDS_REAUTH, portal, reason=reason, status=status, extra=extra)
    elif kind in KEY_PROBLEMS:
        if portal.last_refresh_result != kind:
            portal_event(session, events.KEY_PROBLEM, portal, reason=reason, status=status, extra=extra)
    elif failures == threshold:
        portal_event(session, events.REFRESH_FAILED, portal, reason=reason, status=status, extra=extra)


def disconnected(session: Session, portal: Portal, status: str, *, reason: str) -> None:
    """Revoked or uninstalled (``portal`` as read before): once, on entering that status."""
    if portal.status != status:
        event = events.UNINSTALLED if status == PortalStatus.UNINSTALLED else events.REVOKED
        portal_event(session, event, portal, reason=reason, status=status)
