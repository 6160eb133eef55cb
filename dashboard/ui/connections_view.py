"""The Connections page's data: one service call, the metrics, the display order and the chart data.

No Streamlit here (the benchmark times this module on its own). Only the visible page of the table is
turned into a frame (10,000 rows would cost more than the query); the live countdown then recomputes
"Expires in" from that frame's ``expires_at`` column, so a tick never queries the database.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from dashboard.actors import Actor
from dashboard.connections import STATUS_LABELS, Connection, list_connections, summary
from dashboard.context import AppContext

_PROBLEMS_FIRST = {s: i for i, s in enumerate(
    ("needs_reauth", "refresh_failing", "expired", "expiring", "healthy", "revoked"))}
_NEVER = datetime.max.replace(tzinfo=UTC)
_LONG_AGO = datetime.min.replace(tzinfo=UTC)
SortKey = Callable[[Connection], tuple[Any, ...]]

# (key, reverse). Keys compare datetimes directly (cheap at 10,000 rows); unknown times sort last and
# hub id breaks ties in ascending order either way (negated where the sort is reversed).
SORTS: dict[str, tuple[SortKey, bool]] = {
    "Expires soonest": (lambda c: (c.expires_at or _NEVER, c.hub_id), False),
    "Hub id": (lambda c: (c.hub_id,), False),
    "Domain": (lambda c: (c.hub_domain is None, c.hub_domain or "", c.hub_id), False),
    "Status (problems first)": (lambda c: (_PROBLEMS_FIRST.get(c.status, 9), c.hub_id), False),
    "Last refresh (newest)": (lambda c: (c.last_refresh_at or _LONG_AGO, -c.hub_id), True),
    "Installed (newest)": (lambda c: (c.installed_at or _LONG_AGO, -c.hub_id), True),
}
HISTOGRAM_BUCKET = timedelta(minutes=5)
HISTOGRAM_SPAN = timedelta(hours=1)


@dataclass(frozen=True)
class Filters:
    search: str = ""
    statuses: tuple[str, ...] = ()
    scope: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.search.strip() or self.statuses or (self.scope or "").strip())


@dataclass(frozen=True)
class ConnectionsView:
    """Everything the page draws. ``totals`` and the charts cover every portal; ``connections`` are the
    filtered ones in display order (the table turns only the visible page into a frame)."""

    totals: dict[str, int]
    connections: list[Connection]
    expiry_histogram: pd.DataFrame
    status_counts: pd.DataFrame
    _by_hub: dict[int, Connection] = field(default_factory=dict, repr=False)

    def connection(self, hub_id: int) -> Connection | None:
        if not self._by_hub:
            self._by_hub.update((c.hub_id, c) for c in self.connections)
        return self._by_hub.get(hub_id)


def _times(values: list[datetime | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True), dtype="datetime64[ns, UTC]")


def connections_frame(conns: Sequence[Connection]) -> pd.DataFrame:
    """One row per connection, built column-wise (no per-row dicts). Never token material."""
    return pd.DataFrame({
        "hub_id": pd.Series([c.hub_id for c in conns], dtype="int64"),
        "hub_domain": pd.Series([c.hub_domain for c in conns], dtype="object"),
        "status": pd.Series([c.status for c in conns], dtype="object"),
        "status_label": pd.Series([STATUS_LABELS[c.status] for c in conns], dtype="object"),
        "expires_at": _times([c.expires_at for c in conns]),
        "last_refresh_at": _times([c.last_refresh_at for c in conns]),
        "last_refresh_result": pd.Series([c.last_refresh_result for c in conns], dtype="object"),
        "granted_scopes": pd.Series([c.granted_scopes for c in conns], dtype="object"),
        "missing_optional_scopes": pd.Series([c.missing_optional_scopes for c in conns], dtype="object"),
        "installed_by": pd.Series([c.installed_by for c in conns], dtype="object"),
        "installed_at": _times([c.installed_at for c in conns]),
    })


def sort_connections(conns: Sequence[Connection], sort: str) -> list[Connection]:
    """``conns`` in the chosen display order (hub id breaks ties)."""
    key, reverse = SORTS.get(sort, SORTS["Hub id"])
    return sorted(conns, key=key, reverse=reverse)


def format_remaining(seconds: float | None) -> str:
    """``1h 02m``, ``4m 05s``, ``42s``; ``expired 3m ago`` once past; ``—`` when unknown."""
    if seconds is None or seconds != seconds:  # None or NaN
        return "—"
    whole = int(abs(seconds))
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    text = f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s" if m else f"{s}s"
    return text if seconds > 0 else f"expired {text} ago"


def with_countdown(page: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """``page`` plus an ``expires_in`` text column, computed from ``expires_at`` in memory.

    A revoked portal has no token left, so nothing counts down for it."""
    seconds = (page["expires_at"] - pd.Timestamp(now)).dt.total_seconds()
    shown = page.copy()
    shown["expires_in"] = [format_remaining(None if pd.isna(v) or status == "revoked" else float(v))
                           for v, status in zip(seconds, page["status"], strict=True)]
    return shown


def expiry_histogram(conns: Sequence[Connection], now: datetime) -> pd.DataFrame:
    """Access tokens expiring in each 5-minute bucket of the next hour (revoked portals left out)."""
    buckets = int(HISTOGRAM_SPAN / HISTOGRAM_BUCKET)
    counts = [0] * buckets
    for c in conns:
        if c.expires_at is None or c.status == "revoked":
            continue
        index = int((c.expires_at - now) / HISTOGRAM_BUCKET)
        if 0 <= index < buckets and c.expires_at >= now:
            counts[index] += 1
    step = int(HISTOGRAM_BUCKET.total_seconds() // 60)
    labels = [f"{i * step:02d}-{(i + 1) * step:02d} min" for i in range(buckets)]
    return pd.DataFrame({"expires in": labels, "tokens": counts})


def status_counts(totals: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"status": [STATUS_LABELS[s] for s in STATUS_LABELS],
                         "portals": [totals.get(s, 0) for s in STATUS_LABELS]})


def load_connections_view(ctx: AppContext, *, actor: Actor, filters: Filters, now: datetime,
                          sort: str = "Hub id") -> ConnectionsView:
    """The page's one data call: every portal for metrics and charts, the filtered ones for the table."""
    with gc_paused():
        everything = list_connections(ctx, actor=actor)
        shown = everything
        if filters.active:
            shown = list_connections(ctx, actor=actor, search=filters.search.strip() or None,
                                     statuses=filters.statuses, scope=(filters.scope or "").strip() or None)
        totals = summary(everything)
        return ConnectionsView(totals=totals, connections=sort_connections(shown, sort),
                               expiry_histogram=expiry_histogram(everything, now), status_counts=status_counts(totals))


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while building tens of thousands of small acyclic objects.

    In a Streamlit server the heap is large, so the collections that 10,000 connections would trigger
    (each walking every tracked object) cost more than building them. Reference counting still frees
    everything; collection resumes afterwards. Process-wide, so concurrent callers only delay it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
