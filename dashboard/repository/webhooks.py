"""Lifecycle webhooks: endpoints, the outbox (events and their deliveries), delivery leases and attempts.

Deliveries are leased like portals: one conditional UPDATE claims a batch for an owner (the lease free or
expired is part of its WHERE; PostgreSQL's inner select skips rows another claim has locked), and the outcome
of an attempt is written only while the writer still holds the lease. Per endpoint, a portal's deliveries are
attempted in order: a delivery is claimable only when no earlier delivery of the same endpoint and portal is
still pending (retrying or leased).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from dashboard.repository._common import _write, session_app
from dashboard.webhook_models import (
    WEBHOOK_FAILED,
    WEBHOOK_PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

_D = WebhookDelivery


# --- endpoints -----------------------------------------------------------------------------------------

def add_webhook_endpoint(*, session: Session, endpoint: WebhookEndpoint) -> int:
    """Insert ``endpoint`` (its app the session's); its new id."""
    endpoint.app = session_app(session)
    session.add(endpoint)
    session.flush()
    assert endpoint.id is not None
    return endpoint.id


def get_webhook_endpoint(*, session: Session, endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint, unless it was removed or belongs to another app."""
    stmt = select(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint_id,
                                         col(WebhookEndpoint.app) == session_app(session),
                                         col(WebhookEndpoint.removed_at).is_(None))
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().first()


def list_webhook_endpoints(*, session: Session) -> list[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(col(WebhookEndpoint.app) == session_app(session),
                                         col(WebhookEndpoint.removed_at).is_(None)).order_by(col(WebhookEndpoint.id))
    return list(session.execute(stmt.execution_options(populate_existing=True)).scalars())


def update_webhook_endpoint(*, session: Session, endpoint_id: int, values: dict[str, Any]) -> bool:
    stmt = (update(WebhookEndpoint)
            .where(col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.app) == session_app(session),
                   col(WebhookEndpoint.removed_at).is_(None))
            .values(**values))
    return _write(session, stmt) == 1


def webhook_endpoints_off_key(*, session: Session, key_id: str) -> list[WebhookEndpoint]:
    """Endpoints of every app (not removed) with a secret, current or previous, not encrypted under ``key_id``."""
    stmt = select(WebhookEndpoint).where(
        col(WebhookEndpoint.removed_at).is_(None),
        or_(col(WebhookEndpoint.secret_key_id) != key_id,
            and_(col(WebhookEndpoint.previous_secret_ct).is_not(None),
                 col(WebhookEndpoint.previous_secret_key_id) != key_id))).order_by(col(WebhookEndpoint.id))
    return list(session.execute(stmt.execution_options(populate_existing=True)).scalars())


def reseal_webhook_endpoint(*, session: Session, endpoint_id: int, values: dict[str, Any]) -> bool:
    """Write re-encrypted secrets (any app: key rotation covers every app)."""
    return _write(session, update(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint_id).values(**values)) == 1


def matching_endpoint_ids(*, session: Session, event_type: str) -> list[int]:
    """Endpoints (not removed, this app) that take ``event_type``: those listing it, and those listing none."""
    padded = literal(" ") + col(WebhookEndpoint.event_types) + literal(" ")
    stmt = select(col(WebhookEndpoint.id)).where(
        col(WebhookEndpoint.app) == session_app(session), col(WebhookEndpoint.removed_at).is_(None),
        or_(col(WebhookEndpoint.event_types) == "", padded.like(f"% {event_type} %")))
    return [int(i) for i in session.execute(stmt).scalars()]


# --- the outbox ----------------------------------------------------------------------------------------

_INSERT_EVENT = insert(WebhookEvent).returning(col(WebhookEvent.id))
_INSERT_DELIVERY = insert(WebhookDelivery)


def insert_webhook_event(*, session: Session, msg_id: str, event_type: str, hub_id: int, payload: str,
                         now: datetime, endpoint_ids: Sequence[int]) -> int:
    """One event and a pending delivery of it to each of ``endpoint_ids``, in the caller's transaction."""
    conn = session.connection()
    event_id = conn.execute(_INSERT_EVENT, {"msg_id": msg_id, "app": session_app(session),
                                                 "event_type": event_type, "hub_id": hub_id, "payload": payload,
                                                 "created_at": now}).scalar_one()
    assert isinstance(event_id, int)
    conn.execute(_INSERT_DELIVERY, [
        {"event_id": event_id, "endpoint_id": e, "hub_id": hub_id, "status": WEBHOOK_PENDING, "attempts": 0,
         "next_attempt_at": now, "created_at": now} for e in endpoint_ids])
    return event_id


# --- leases and attempts -------------------------------------------------------------------------------

_EARLIER = aliased(WebhookDelivery)


def _due(session: Session, now: datetime) -> Any:
    app_endpoints = select(col(WebhookEndpoint.id)).where(col(WebhookEndpoint.app) == session_app(session))
    lease_free = or_(col(_D.lease_owner).is_(None), col(_D.lease_expires_at) < now)
    return (col(_D.status) == WEBHOOK_PENDING, col(_D.next_attempt_at) <= now, lease_free,
            col(_D.endpoint_id).in_(app_endpoints))


def any_webhook_due(*, session: Session, now: datetime) -> bool:
    """Whether some delivery is due (a read: an idle worker's poll takes no write lock)."""
    return session.execute(select(col(_D.id)).where(*_due(session, now)).limit(1)).first() is not None


def claim_webhook_deliveries(*, session: Session, owner: str, now: datetime, until: datetime, limit: int) -> int:
    """Lease up to ``limit`` due deliveries (oldest first, at most one per endpoint and portal) to ``owner``."""
    lease_free = or_(col(_D.lease_owner).is_(None), col(_D.lease_expires_at) < now)
    earlier_pending = exists().where(col(_EARLIER.endpoint_id) == col(_D.endpoint_id),
                                     col(_EARLIER.hub_id) == col(_D.hub_id),
                                     col(_EARLIER.status) == WEBHOOK_PENDING, col(_EARLIER.id) < col(_D.id))
    due = (select(col(_D.id))
           .where(*_due(session, now), ~earlier_pending)
           .order_by(col(_D.id)).limit(limit).with_for_update(skip_locked=True))
    stmt = (update(_D).where(col(_D.id).in_(due.scalar_subquery()), col(_D.status) == WEBHOOK_PENDING, lease_free)
            .values(lease_owner=owner, lease_expires_at=until))
    return _write(session, stmt)


@dataclass(frozen=True)
class LeasedDelivery:
    """What one attempt needs: the delivery, its event's body and id, the endpoint's URL and secrets."""

    delivery_id: int
    attempts: int
    msg_id: str
    event_type: str
    payload: str
    endpoint_id: int
    url: str
    secret_ct: str
    secret_key_id: str
    previous_secret_ct: str | None
    previous_secret_key_id: str | None
    previous_secret_expires_at: datetime | None


_LEASED = (select(col(_D.id), col(_D.attempts), col(WebhookEvent.msg_id), col(WebhookEvent.event_type),
                  col(WebhookEvent.payload), col(WebhookEndpoint.id), col(WebhookEndpoint.url),
                  col(WebhookEndpoint.secret_ct), col(WebhookEndpoint.secret_key_id),
                  col(WebhookEndpoint.previous_secret_ct), col(WebhookEndpoint.previous_secret_key_id),
                  col(WebhookEndpoint.previous_secret_expires_at))
           .join(WebhookEvent, col(WebhookEvent.id) == col(_D.event_id))
           .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(_D.endpoint_id)))


def webhook_deliveries_leased_to(*, session: Session, owner: str) -> list[LeasedDelivery]:
    stmt = _LEASED.where(col(_D.lease_owner) == owner, col(_D.status) == WEBHOOK_PENDING).order_by(col(_D.id))
    return [LeasedDelivery(*row) for row in session.execute(stmt)]


def finish_webhook_attempt(*, session: Session, delivery_id: int, owner: str, at: datetime, status_code: int | None,
                           error: str | None, response: str | None, duration_ms: int, status: str,
                           next_attempt_at: datetime | None) -> bool:
    """Record one attempt and the delivery's new state, only while ``owner`` still holds its lease."""
    stmt = (update(_D).where(col(_D.id) == delivery_id, col(_D.lease_owner) == owner)
            .values(status=status, attempts=_D.attempts + 1, next_attempt_at=next_attempt_at, lease_owner=None,
                    lease_expires_at=None, last_attempt_at=at, last_status_code=status_code, last_response=response,
                    last_error=error, delivered_at=at if status != WEBHOOK_PENDING and error is None else None))
    if _write(session, stmt) != 1:
        return False
    session.connection().execute(insert(WebhookAttempt), {
        "delivery_id": delivery_id, "at": at, "status_code": status_code, "duration_ms": duration_ms,
        "error": error, "response": response})
    return True


def redeliver_webhook(*, session: Session, delivery_id: int, now: datetime) -> bool:
    """Queue a delivery again (any status), first attempt now; its attempts so far stay recorded."""
    stmt = (update(_D).where(col(_D.id) == delivery_id,
                             col(_D.endpoint_id).in_(select(col(WebhookEndpoint.id)).where(
                                 col(WebhookEndpoint.app) == session_app(session))))
            .values(status=WEBHOOK_PENDING, attempts=0, next_attempt_at=now, lease_owner=None,
                    lease_expires_at=None))
    return _write(session, stmt) == 1


def fail_webhook_deliveries_of(*, session: Session, endpoint_id: int, now: datetime) -> int:
    """A removed endpoint's pending deliveries end as failed (kept for the record), none is attempted again."""
    stmt = (update(_D).where(col(_D.endpoint_id) == endpoint_id, col(_D.status) == WEBHOOK_PENDING)
            .values(status=WEBHOOK_FAILED, next_attempt_at=None, last_error="the endpoint was removed",
                    lease_owner=None, lease_expires_at=None))
    return _write(session, stmt)


# --- what the admin views and metrics read -------------------------------------------------------------

@dataclass(frozen=True)
class DeliveryRow:
    id: int
    endpoint_id: int
    event_type: str
    msg_id: str
    hub_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_response: str | None
    last_error: str | None
    created_at: datetime | None
    delivered_at: datetime | None


_ROWS = (select(col(_D.id), col(_D.endpoint_id), col(WebhookEvent.event_type), col(WebhookEvent.msg_id),
                col(_D.hub_id), col(_D.status), col(_D.attempts), col(_D.next_attempt_at), col(_D.last_attempt_at),
                col(_D.last_status_code), col(_D.last_response), col(_D.last_error), col(_D.created_at),
                col(_D.delivered_at))
         .join(WebhookEvent, col(WebhookEvent.id) == col(_D.event_id)))


def list_webhook_deliveries(*, session: Session, endpoint_id: int | None = None, status: str | None = None,
                            limit: int = 100) -> list[DeliveryRow]:
    """The newest deliveries first (this app's events), at most ``limit``."""
    conds = [col(WebhookEvent.app) == session_app(session)]
    if endpoint_id is not None:
        conds.append(col(_D.endpoint_id) == endpoint_id)
    if status is not None:
        conds.append(col(_D.status) == status)
    stmt = _ROWS.where(and_(*conds)).order_by(col(_D.id).desc()).limit(limit)
    return [DeliveryRow(*row) for row in session.execute(stmt)]


def get_webhook_delivery(*, session: Session, delivery_id: int) -> DeliveryRow | None:
    stmt = _ROWS.where(col(_D.id) == delivery_id, col(WebhookEvent.app) == session_app(session))
    row = session.execute(stmt).first()
    return None if row is None else DeliveryRow(*row)


def webhook_queue_stats(*, session: Session) -> tuple[dict[str, int], datetime | None]:
    """Deliveries by status (every app), and when the oldest pending one was created."""
    counts = {str(s): int(n) for s, n in session.execute(select(col(_D.status), func.count()).group_by(col(_D.status)))}
    oldest = session.execute(select(func.min(col(_D.created_at))).where(col(_D.status) == WEBHOOK_PENDING)).scalar()
    return counts, oldest
