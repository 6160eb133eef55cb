"""Connection health in SQL: the per-portal timeline (the audit log), its pruning, app-wide conditions
(HubSpot degraded, a configuration problem: the breaker's shared state) and uptime from transitions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, update
from sqlmodel import Session, col

from dashboard.models import AppCondition, AuditEvent, Portal, PortalStatus, UTCDateTime
from dashboard.repository._common import _write, session_app

TRANSITION = "transition"
KEY_RESULTS = ("key_missing", "undecryptable")


def list_timeline(*, session: Session, hub_id: int, kinds: Sequence[str] = (), outcomes: Sequence[str] = (),
                  since: datetime | None = None, before_id: int | None = None, limit: int = 50) -> list[AuditEvent]:
    """One page of a portal's timeline, newest first: keyset paging on the id (``before_id``: the last row
    of the previous page), so a page costs one page whatever the log's size (index ix_audit_hub_at)."""
    conds: list[ColumnElement[bool]] = [col(AuditEvent.hub_id) == hub_id, col(AuditEvent.app) == session_app(session)]
    if kinds:
        conds.append(col(AuditEvent.action).in_(list(kinds)))
    if outcomes:
        conds.append(col(AuditEvent.outcome).in_(list(outcomes)))
    if since is not None:
        conds.append(col(AuditEvent.at) >= since)
    if before_id is not None:
        conds.append(col(AuditEvent.id) < before_id)
    stmt = select(AuditEvent).where(*conds).order_by(col(AuditEvent.id).desc()).limit(limit)
    return list(session.execute(stmt).scalars())


def timeline_facets(*, session: Session, hub_id: int) -> tuple[list[str], list[str]]:
    """The kinds and outcomes a portal's timeline holds (the filters' options)."""
    base = (col(AuditEvent.hub_id) == hub_id, col(AuditEvent.app) == session_app(session))
    kinds = session.execute(select(col(AuditEvent.action)).where(*base).distinct()).scalars()
    outcomes = session.execute(select(col(AuditEvent.outcome)).where(*base).distinct()).scalars()
    return sorted(kinds), sorted(outcomes)


def prune_audit_before(*, session: Session, before: datetime, batch: int) -> int:
    """Delete at most ``batch`` events older than ``before`` (oldest first); how many went."""
    oldest = select(col(AuditEvent.id)).where(col(AuditEvent.at) < before).order_by(col(AuditEvent.id)).limit(batch)
    return _write(session, delete(AuditEvent).where(col(AuditEvent.id).in_(oldest.scalar_subquery())))


def last_event_at(*, session: Session, hub_id: int | None, action: str) -> datetime | None:
    """When the newest event of ``action`` about ``hub_id`` (None: app-wide) was recorded."""
    hub = col(AuditEvent.hub_id).is_(None) if hub_id is None else col(AuditEvent.hub_id) == hub_id
    stmt = select(func.max(col(AuditEvent.at))).where(hub, col(AuditEvent.action) == action,
                                                      col(AuditEvent.app) == session_app(session))
    value: datetime | None = session.execute(stmt).scalar()
    return value


# --- app-wide conditions ---------------------------------------------------------------------------------

def get_condition(*, session: Session, name: str) -> AppCondition | None:
    return session.get(AppCondition, (session_app(session), name))


def active_conditions(*, session: Session, prefix: str) -> list[AppCondition]:
    """The conditions on now whose name starts with ``prefix`` (``key:``: one per unusable key id)."""
    stmt = select(AppCondition).where(col(AppCondition.app) == session_app(session),
                                      col(AppCondition.name).startswith(prefix), col(AppCondition.active).is_(True))
    return list(session.execute(stmt).scalars())


def set_condition(*, session: Session, name: str, active: bool, now: datetime, reason: str) -> bool:
    """Turn ``name`` on (keeping ``since`` when it already was) or off; True when it changed."""
    row = get_condition(session=session, name=name)
    if row is None:
        session.add(AppCondition(app=session_app(session), name=name, active=active, since=now if active else None,
                                 reason=reason, updated_at=now, probe_at=now if active else None))
        session.flush()
        return active
    if row.active == active:
        if active and reason and row.reason != reason:
            row.reason, row.updated_at = reason, now
        session.flush()
        return False
    row.active, row.since, row.updated_at = active, now, now
    if active:  # the first probe one period after the condition started: the failures that started it count
        row.reason, row.probe_at, row.probe_owner = reason, now, None
    session.flush()
    return True


def take_probe(*, session: Session, name: str, owner: str, now: datetime, every: timedelta) -> bool:
    """Whether ``owner`` may send the one probe of this period: a conditional UPDATE, so replicas agree."""
    stmt = (update(AppCondition)
            .where(col(AppCondition.app) == session_app(session), col(AppCondition.name) == name,
                   col(AppCondition.active).is_(True),
                   or_(col(AppCondition.probe_at).is_(None), col(AppCondition.probe_at) <= now - every))
            .values(probe_at=now, probe_owner=owner))
    return _write(session, stmt) == 1


def release_backoff_since(*, session: Session, since: datetime) -> int:
    """Portals that failed transiently since ``since`` (a HubSpot outage) are due at once: backoff cleared."""
    stmt = (update(Portal)
            .where(col(Portal.app) == session_app(session), col(Portal.status) == PortalStatus.REFRESH_FAILING,
                   col(Portal.last_refresh_at) >= since, col(Portal.next_attempt_at).is_not(None),
                   func.coalesce(col(Portal.last_refresh_result), "").not_in(KEY_RESULTS))
            .values(next_attempt_at=None))
    return _write(session, stmt)


def release_key_backoff(*, session: Session, key_id: str) -> int:
    """Portals held back by a key problem on ``key_id`` are due at once (the key is readable again)."""
    stmt = (update(Portal)
            .where(col(Portal.app) == session_app(session), col(Portal.key_id) == key_id,
                   col(Portal.next_attempt_at).is_not(None),
                   or_(col(Portal.status).in_(KEY_RESULTS), col(Portal.last_refresh_result).in_(KEY_RESULTS)))
            .values(next_attempt_at=None))
    return _write(session, stmt)


# --- uptime ----------------------------------------------------------------------------------------------

def uptime_shares(*, session: Session, hub_ids: Sequence[int], now: datetime, window: timedelta,
                  up_states: Sequence[str], current: dict[int, str]) -> dict[int, float]:
    """Share of ``window`` (ending ``now``) each portal spent in ``up_states``, from its transitions.

    Each transition in the window opens a span lasting until the next one (or ``now``); the span before the
    first is in that transition's ``from_state``; a portal with no transition in the window was all the time
    in ``current[hub_id]``. Time before a portal's first grant (its first transition comes from ``none``) is
    left out of the window: it did not exist then. One query over the page's hub ids (a window function over
    index ix_audit_hub_at): the cost follows the page, not the number of portals.
    """
    if not hub_ids:
        return {}
    start = now - window
    base = (col(AuditEvent.app) == session_app(session), col(AuditEvent.action) == TRANSITION,
            col(AuditEvent.hub_id).in_(list(hub_ids)), col(AuditEvent.at) >= start, col(AuditEvent.at) <= now)
    at, hub = col(AuditEvent.at), col(AuditEvent.hub_id)
    spans = select(
        hub.label("hub_id"), at.label("at"), col(AuditEvent.from_state).label("from_state"),
        col(AuditEvent.to_state).label("to_state"),
        func.lead(at).over(partition_by=hub, order_by=(at, col(AuditEvent.id))).label("next_at"),
        func.row_number().over(partition_by=hub, order_by=(at, col(AuditEvent.id))).label("n"),
    ).where(*base).subquery()
    sqlite = session.get_bind().dialect.name == "sqlite"
    now_p, start_p = literal(now, UTCDateTime()), literal(start, UTCDateTime())

    def seconds(a: Any, b: Any) -> Any:
        """``b - a`` in seconds: julianday of SQLite's stored text, PostgreSQL's epoch of an interval."""
        if sqlite:
            return (func.julianday(b) - func.julianday(a)) * 86400.0
        return func.extract("epoch", b - a)

    up_after = case((spans.c.to_state.in_(list(up_states)),
                     seconds(spans.c.at, func.coalesce(spans.c.next_at, now_p))), else_=0.0)
    up_before = case((and_(spans.c.n == 1, spans.c.from_state.in_(list(up_states))),
                      seconds(start_p, spans.c.at)), else_=0.0)
    # before a portal's first grant (a first transition out of "none") it did not exist: that time is not
    # downtime, so a portal installed an hour ago and healthy since shows 100 %, not 0.6 % of 7 days
    unborn = case((and_(spans.c.n == 1, func.coalesce(spans.c.from_state, "none") == "none"),
                   seconds(start_p, spans.c.at)), else_=0.0)
    rows = session.execute(select(spans.c.hub_id, func.sum(up_after + up_before), func.sum(unborn))
                           .group_by(spans.c.hub_id)).all()
    total = window.total_seconds()
    shares = {}
    for h, up, before in rows:
        observed = total - float(before or 0.0)
        if observed >= 1.0:
            shares[int(h)] = max(0.0, min(1.0, float(up or 0.0) / observed))
    for hub_id in hub_ids:
        if hub_id not in shares:
            shares[hub_id] = 1.0 if current.get(hub_id) in up_states else 0.0
    return shares


def fleet_transitions(*, session: Session, since: datetime, until: datetime) -> list[tuple[int, datetime, str, str]]:
    """Every transition between ``since`` and ``until`` (hub id, at, from, to), oldest first: the fleet chart
    replays them over the per-state counts of now (bounded by the window, not the number of portals)."""
    stmt = (select(col(AuditEvent.hub_id), col(AuditEvent.at), col(AuditEvent.from_state), col(AuditEvent.to_state))
            .where(col(AuditEvent.app) == session_app(session), col(AuditEvent.action) == TRANSITION,
                   col(AuditEvent.at) >= since, col(AuditEvent.at) <= until)
            .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()))
    return [(int(h), a, f or "", t or "") for h, a, f, t in session.execute(stmt).all() if h is not None]
