"""The Activity page's data: time ranges, the audit table and refresh outcomes per time bucket. No Streamlit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd

from dashboard.models import AuditEvent
from dashboard.ui.text import shown

RANGES: dict[str, timedelta | None] = {
    "Last hour": timedelta(hours=1), "Last 24 hours": timedelta(days=1), "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30), "All time": None, "Custom dates": None,
}
ACTIONS = ("install", "reinstall", "install.start", "install.callback", "install.exchange", "refresh", "test",
           "revoke", "revoke.local", "token.introspect", "scope_sets.save", "scope_sets.delete", "keys.rotate")
OUTCOMES = ("success", "failure", "rejected", "denied", "conflict")
# What happened to which portal first, so the detail gets the room at 1280 px; who and the hub id after it.
LOG_COLUMNS = ("at", "hub_domain", "action", "outcome", "detail", "actor", "hub_id")


def time_window(choice: str, now: datetime, days: Sequence[date] = ()) -> tuple[datetime | None, datetime | None]:
    """``(since, until)`` for a range choice; custom dates are whole UTC days, both ends included."""
    if choice == "Custom dates":
        if not days:
            return None, None
        start, end = days[0], days[-1]
        return (datetime.combine(start, time.min, UTC),
                datetime.combine(end, time.min, UTC) + timedelta(days=1) - timedelta(microseconds=1))
    span = RANGES.get(choice)
    return (now - span if span else None), None


def events_frame(events: Sequence[AuditEvent], domains: Mapping[int, str] | None = None) -> pd.DataFrame:
    """One row per event, newest first; ``hub_domain`` names the portal (a hub id alone says little)."""
    domains = domains or {}
    return pd.DataFrame({
        "at": pd.Series(pd.to_datetime([e.at for e in events], utc=True), dtype="datetime64[ns, UTC]"),
        "actor": [shown(e.actor) for e in events], "hub_id": pd.Series([e.hub_id for e in events], dtype="Int64"),
        "hub_domain": [shown(domains.get(e.hub_id, "")) if e.hub_id is not None else "" for e in events],
        "action": [e.action for e in events], "outcome": [e.outcome for e in events],
        "detail": [shown(e.detail or "") for e in events], "app": [e.app for e in events],
    })


def log_columns(several_apps: bool) -> tuple[str, ...]:
    """The log's columns; with several apps configured, the app too (a hub id alone names no connection)."""
    return (*LOG_COLUMNS, "app") if several_apps else LOG_COLUMNS


def log_heading(count: int, limit: int) -> str:
    """``Audit log · 1 event``, ``… · 2,000 events (the newest 2,000 shown)``."""
    noun = "event" if count == 1 else "events"
    more = f" (the newest {limit:,} shown; narrow the filters or export)" if count >= limit else ""
    return f"Audit log · {count:,} {noun}{more}"


def refresh_buckets(events: Sequence[AuditEvent], span: timedelta | None,
                    outcome: str | None = None) -> pd.DataFrame:
    """Refresh successes and failures per 5 minutes (spans up to a day) or per hour, oldest first.

    ``time`` is a 24-hour UTC label (the table's clock; a category, so bars are drawn as bars, not hairlines);
    ``outcome`` (the page's filter) keeps only that column."""
    kept = [o for o in ("success", "failure") if outcome in (None, o)]
    rows = [e for e in events if e.action == "refresh" and e.outcome in kept]
    if not rows:
        return pd.DataFrame({"time": pd.Series([], dtype="object"), **{o: [] for o in kept}})
    frame = events_frame(rows)
    short = span is not None and span <= timedelta(days=1)
    frame["bucket"] = frame["at"].dt.floor("5min" if short else "h")
    table = frame.pivot_table(index="bucket", columns="outcome", values="actor", aggfunc="count", fill_value=0)
    table = table.reindex(columns=kept, fill_value=0).reset_index().rename_axis(columns=None)
    table.insert(0, "time", table["bucket"].dt.strftime("%H:%M" if short else "%m-%d %H:00"))
    return table.drop(columns="bucket")
