"""A portal's timeline: every operation on the connection, newest first, with its outcome, duration and
HubSpot's fields. One store: the audit log carries the timeline's columns (models.AuditEvent), so an action
and its timeline entry are the same row, written in the same transaction.

Kinds are the audit actions (``install``, ``refresh``, ``revoke``, ``uninstall``, ``test``, ``transition``,
``alert``, ``proxy`` ...). Frequent actions are one row per minute whose ``count`` says how many it stands for:
token API reads (dashboard/tokens/reads.py) and proxied API calls (dashboard/proxy/usage.py). Kept
``DASHBOARD_TIMELINE_RETENTION_DAYS`` (default 30); :func:`prune` deletes older rows in bounded batches and is
called by the refresh workers after each pass.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import InputError
from dashboard.models import AuditEvent, utcnow
from dashboard.security.guard import require

MAX_LIMIT = 500
PRUNE_BATCH = 1000
PRUNE_BATCHES = 20  # per pass: at most 20,000 rows, in short transactions
_RELATIVE = re.compile(r"^(\d{1,6})\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_HUB_ID = 2**63 - 1


@dataclass(frozen=True)
class TimelineEntry:
    """One event of a portal's timeline. Every text field is foreign or derived from it: escape to show."""

    id: int
    at: datetime
    kind: str
    outcome: str
    actor: str
    detail: str
    http_status: int | None
    hubspot_status: str | None
    hubspot_category: str | None
    correlation_id: str | None
    answer: str | None
    duration_ms: int | None
    attempt: int | None
    from_state: str | None
    to_state: str | None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def _entry(e: AuditEvent) -> TimelineEntry:
    assert e.id is not None
    assert e.at is not None
    return TimelineEntry(e.id, e.at, e.action, e.outcome, e.actor, e.detail, e.http_status, e.hubspot_status,
                         e.hubspot_category, e.correlation_id, e.answer, e.duration_ms, e.attempt, e.from_state,
                         e.to_state)


def parse_hub_id(text: str) -> int:
    """A hub id from a person or a URL: ASCII digits, 1 .. 2^63-1; else :class:`InputError` (one line)."""
    if not text.isascii() or not text.isdigit() or len(text) > 19 or not 1 <= int(text) <= MAX_HUB_ID:
        raise InputError(f"not a hub id: {text[:40]!r} (a whole number from 1 to {MAX_HUB_ID})")
    return int(text)


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``--since``: an ISO date or time (UTC unless it says otherwise) or a span back from now (``90m``,
    ``24h``, ``7d``). Anything else is an :class:`InputError` with one line."""
    now = now or utcnow()
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        try:
            return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
        except OverflowError:  # 999999d reaches back before the year 1
            raise InputError(f"--since: {text!r} reaches back too far") from None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--since: not a time: {text[:40]!r} (ISO 8601 such as 2026-12-04T17:00, "
                         "or a span such as 90m, 24h, 7d)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def portal_timeline(ctx: AppContext, hub_id: int, *, actor: Actor, kinds: tuple[str, ...] = (),
                    outcomes: tuple[str, ...] = (), since: datetime | None = None, before_id: int | None = None,
                    limit: int = 50) -> list[TimelineEntry]:
    """One page of the portal's timeline, newest first (``before_id``: the last id of the previous page)."""
    require(ctx.engine, actor, "view", action="timeline", hub_id=hub_id)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit: from 1 to {MAX_LIMIT}, not {limit}")
    with ctx.session() as session:
        repository.portal_or_not_found(session=session, hub_id=hub_id)
        rows = repository.list_timeline(session=session, hub_id=hub_id, kinds=kinds, outcomes=outcomes,
                                        since=since, before_id=before_id, limit=limit)
    return [_entry(e) for e in rows]


def facets(ctx: AppContext, hub_id: int, *, actor: Actor) -> tuple[list[str], list[str]]:
    """The kinds and outcomes in the portal's timeline (the page's filter options)."""
    require(ctx.engine, actor, "view", action="timeline", hub_id=hub_id)
    with ctx.session() as session:
        return repository.timeline_facets(session=session, hub_id=hub_id)


def prune(ctx: AppContext, *, now: datetime | None = None, batch: int = PRUNE_BATCH,
          batches: int = PRUNE_BATCHES) -> int:
    """Delete timeline rows older than the retention, ``batch`` rows per transaction, at most ``batches``
    transactions (the rest waits for the next pass); how many went."""
    before = (now or utcnow()) - timedelta(days=ctx.settings.dashboard_timeline_retention_days)
    removed = 0
    for _ in range(batches):
        with ctx.session() as session, ctx.writing():
            n = repository.prune_audit_before(session=session, before=before, batch=batch)
            session.commit()
        removed += n
        if n < batch:
            break
    return removed
