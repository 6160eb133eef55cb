"""Uptime from transitions: the share of time each portal was healthy over 24 h, 7 d and 30 d, its state
strip, and the fleet chart (portals per state, hourly, last 24 h).

All computed from the timeline's ``transition`` rows in SQL (repository.health.uptime_shares): a page of
portals costs one query over those portals' transitions, whatever the number of portals
(bench/uptime.py measures it at 1,000 and 100,000). A portal with no transition in a window spent all of
it in its current state. Uptime counts only time since the timeline began (and within its retention).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.lifecycle.machine import UP_STATES, HealthState, state_of
from dashboard.models import utcnow
from dashboard.security.guard import require

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
_UP = [str(s) for s in UP_STATES]


def uptime(ctx: AppContext, hub_ids: Sequence[int], *, actor: Actor, windows: Sequence[str] = tuple(WINDOWS),
           now: datetime | None = None) -> dict[int, dict[str, float]]:
    """``{hub_id: {"24h": share, "7d": share, "30d": share}}`` (0.0 .. 1.0) for a page of portals."""
    require(ctx.engine, actor, "view", action="uptime")
    now = now or utcnow()
    result: dict[int, dict[str, float]] = {h: {} for h in hub_ids}
    with ctx.session() as session:
        current = {int(r["hub_id"]): str(state_of(r["status"], r["last_refresh_result"]))
                   for r in repository.portal_rows_by_id(session=session, hub_ids=list(hub_ids))}
        for name in windows:
            shares = repository.uptime_shares(session=session, hub_ids=list(hub_ids), now=now,
                                              window=WINDOWS[name], up_states=_UP, current=current)
            for hub, share in shares.items():
                result[hub][name] = share
    return result


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    state: str


def state_strip(ctx: AppContext, hub_id: int, *, actor: Actor, window: timedelta = timedelta(days=7),
                now: datetime | None = None) -> list[Span]:
    """The portal's states over ``window`` as consecutive spans, oldest first (at most 500 transitions)."""
    require(ctx.engine, actor, "view", action="uptime", hub_id=hub_id)
    now = now or utcnow()
    start = now - window
    with ctx.session() as session:
        portal = repository.portal_or_not_found(session=session, hub_id=hub_id)
        moves = list(reversed(repository.list_timeline(session=session, hub_id=hub_id, kinds=["transition"],
                                                       since=start, limit=500)))
    spans: list[Span] = []
    at, state = start, (moves[0].from_state if moves else str(state_of(portal.status, portal.last_refresh_result)))
    for move in moves:
        assert move.at is not None
        if move.at > at:
            spans.append(Span(at, move.at, state or "none"))
        at, state = move.at, move.to_state or "none"
    spans.append(Span(at, now, state or "none"))
    return spans


def fleet_chart(ctx: AppContext, *, actor: Actor, hours: int = 24, now: datetime | None = None
                ) -> list[tuple[datetime, dict[str, int]]]:
    """Portals per state at each of the last ``hours`` hour marks (oldest first): the states of now, with
    the window's transitions undone going back (cost: the window's transitions, not the portals)."""
    require(ctx.engine, actor, "view", action="uptime")
    now = now or utcnow()
    since = now - timedelta(hours=hours)
    with ctx.session() as session:
        counts: Counter[str] = Counter()
        for status, n in repository.status_counts(session=session).items():
            counts[str(state_of(status, None))] += n
        moves = repository.fleet_transitions(session=session, since=since, until=now)  # newest first
    points: list[tuple[datetime, dict[str, int]]] = []
    i = 0
    for h in range(hours + 1):
        mark = now - timedelta(hours=h)
        while i < len(moves) and moves[i][1] > mark:
            _, _, before, after = moves[i]
            counts[after] -= 1
            if before and before != "none":
                counts[before] += 1
            i += 1
        points.append((mark, {s.value: max(0, counts[s.value]) for s in HealthState}))
    return list(reversed(points))
