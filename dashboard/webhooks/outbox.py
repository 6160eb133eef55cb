"""The transactional outbox: events are written in the transaction of the change they report.

``enqueue(session, ...)`` inserts into the caller's open transaction, so its commit writes the change and the
event together and its rollback (an error after enqueue, a crash before the commit) writes neither.

One event row plus one delivery row per matching endpoint, both at enqueue: the fan-out is decided at the
instant of the change (an endpoint added later does not receive older events; one removed stops receiving),
each endpoint keeps its own attempts, retry times and order, and a worker needs no second step to turn an
event into deliveries. When no endpoint takes the type, nothing is written: one indexed read on a tiny table
is all an installation without webhooks pays.

The state changes call it from today's write paths (grants, refresh_store, connections.revoke, uninstall);
each call is one line, so it moves into the health state machine's single transition function unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dashboard import repository
from dashboard.models import utcnow
from dashboard.webhooks import events
from dashboard.webhooks.events import PortalLike


def enqueue(session: Session, *, event_type: str, data: Mapping[str, Any], at: datetime | None = None,
            endpoint_ids: Sequence[int] | None = None) -> int | None:
    """Write ``event_type`` with ``data`` for every endpoint that takes it (or only ``endpoint_ids``), in the
    caller's transaction; the event id, or None when no endpoint takes it. The caller commits."""
    targets = list(endpoint_ids) if endpoint_ids is not None else \
        repository.matching_endpoint_ids(session=session, event_type=event_type)
    if not targets:
        return None
    now = at or utcnow()
    hub_id = data.get("hub_id")
    return repository.insert_webhook_event(
        session=session, msg_id=events.new_msg_id(), event_type=event_type,
        hub_id=int(hub_id) if isinstance(hub_id, int) else 0, payload=events.payload_json(event_type, now, data),
        now=now, endpoint_ids=targets)


def portal_event(session: Session, event_type: str, portal: PortalLike, *, reason: str, status: str | None = None,
                 scopes: Sequence[str] | None = None, extra: Mapping[str, Any] | None = None) -> int | None:
    """:func:`enqueue` a connection event about ``portal`` (one line at each transition)."""
    return enqueue(session, event_type=event_type,
                   data=events.portal_data(portal, reason=reason, status=status, scopes=scopes, extra=extra))


def hubspot_status_event(session: Session, *, app: str, degraded: bool, reason: str, since: datetime) -> int | None:
    """``hubspot.degraded`` / ``hubspot.recovered``, written by the outage breaker (dashboard/lifecycle/breaker.py)
    in the transaction that turns the condition on or off."""
    event_type = events.HUBSPOT_DEGRADED if degraded else events.HUBSPOT_RECOVERED
    return enqueue(session, event_type=event_type, data=events.service_data(
        app=app, status="degraded" if degraded else "operational", reason=reason,
        extra={"since": events.timestamp_text(since)}))
