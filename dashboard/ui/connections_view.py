"""The Connections page's data: tiles, chart and one page of rows, all evaluated at one instant.

No Streamlit here (the benchmark times this module on its own). The database counts, filters, sorts and
pages (:mod:`dashboard.connections.listing`); this module only shapes what it returns: the visible page as a frame
(at most one page of rows) with its countdown and readable columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from dashboard import status
from dashboard.actors import Actor
from dashboard.connections.listing import (
    DEFAULT_SORT,
    HISTOGRAM_BUCKET,
    HISTOGRAM_BUCKETS,
    SORTS,
    Filters,
    Overview,
    Page,
    list_page,
    overview,
)
from dashboard.connections.service import Connection
from dashboard.context import AppContext
from dashboard.ui.text import shown

__all__ = ["DEFAULT_SORT", "SORTS", "ConnectionsView", "Filters", "connections_frame", "load_connections_view",
           "with_countdown"]

DOTS = {"green": "🟢", "orange": "🟠", "red": "🔴", "gray": "⚪"}
INSTEAD_OF_COUNTDOWN = status.INSTEAD_OF_COUNTDOWN
RESULT_TEXT = {
    "success": "Refreshed", "invalid_grant": "Refresh token rejected (re-consent)",
    "transient": "HubSpot unavailable, retrying", "rate_limited": "Rate limited, retrying",
    "undecryptable": "Cannot decrypt tokens", "key_missing": "Encryption key missing",
}


@dataclass(frozen=True)
class ConnectionsView:
    """Everything the page draws, at ``now``: every portal's counts and chart, one page of the table."""

    now: datetime
    overview: Overview
    page: Page

    @property
    def totals(self) -> dict[str, int]:
        return {"connected": self.overview.connected, **self.overview.counts}

    @property
    def connections(self) -> list[Connection]:
        return self.page.rows

    def connection(self, hub_id: int) -> Connection | None:
        return self.page.connection(hub_id)

    @property
    def expiry_histogram(self) -> pd.DataFrame:
        step = int(HISTOGRAM_BUCKET.total_seconds() // 60)
        labels = [f"{i * step:02d}-{(i + 1) * step:02d} min" for i in range(HISTOGRAM_BUCKETS)]
        return pd.DataFrame({"expires in": labels, "tokens": self.overview.histogram})

    @property
    def status_counts(self) -> pd.DataFrame:
        shown = [s for s in status.STATUSES if s in ("healthy", "expiring", "expired", "refresh_failing",
                                                     "needs_reauth", "revoked") or self.overview.counts.get(s)]
        return pd.DataFrame({"status": [status.label(s) for s in shown],
                             "portals": [self.overview.counts.get(s, 0) for s in shown]})


def load_connections_view(ctx: AppContext, *, actor: Actor, filters: Filters, now: datetime,
                          sort: str = DEFAULT_SORT, limit: int = 100, offset: int = 0) -> ConnectionsView:
    """The page's data at ``now``: one status aggregate, the histogram and one page of rows (SQL)."""
    return ConnectionsView(now=now, overview=overview(ctx, actor=actor, now=now),
                           page=list_page(ctx, actor=actor, filters=filters, sort=sort, limit=limit,
                                          offset=offset, now=now, with_total=filters.active))


def status_text(code: str) -> str:
    """The coloured label: a dot the eye finds in a long table, then the words."""
    return f"{DOTS.get(status.colour(code), '🔴')} {status.label(code)}"


def result_text(code: str | None, failures: int, status_code: str = "") -> str:
    """The last refresh's result; nothing once the portal is disconnected (its tokens were erased)."""
    if not code or status_code in status.DISCONNECTED:
        return ""
    text = RESULT_TEXT.get(code, code.replace("_", " ").capitalize())
    return f"{text} ({failures}×)" if failures > 1 and code != "success" else text


def _times(values: list[datetime | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True), dtype="datetime64[ns, UTC]")


def _time_text(values: list[datetime | None], fmt: str) -> pd.Series:
    """UTC times as text, blank when unknown (a datetime column draws a grey "None"); ISO order sorts."""
    return pd.Series([v.strftime(fmt) if v else "" for v in values], dtype="object")


def connections_frame(conns: Sequence[Connection]) -> pd.DataFrame:
    """One row per connection of the visible page, built column-wise. Never token material."""
    return pd.DataFrame({
        "hub_id": pd.Series([c.hub_id for c in conns], dtype="int64"),
        # Foreign text: control characters and bidi controls shown escaped (a U+202E reverses the cell).
        "hub_domain": pd.Series([None if c.hub_domain is None else shown(c.hub_domain) for c in conns],
                                dtype="object"),
        "status": pd.Series([c.status for c in conns], dtype="object"),
        "status_label": pd.Series([status_text(c.status) for c in conns], dtype="object"),
        "expires_at": _times([c.expires_at for c in conns]),
        "last_refresh_at": _time_text([c.last_refresh_at for c in conns], "%Y-%m-%d %H:%M:%S"),
        "last_refresh_result": pd.Series([result_text(c.last_refresh_result, c.consecutive_failures, c.status)
                                          for c in conns], dtype="object"),
        "granted_scopes": pd.Series([list(c.granted_scopes) for c in conns], dtype="object"),
        "missing_optional_scopes": pd.Series([list(c.missing_optional_scopes) for c in conns], dtype="object"),
        "installed_by": pd.Series([shown(c.installed_by or "") for c in conns], dtype="object"),
        "installed_at": _time_text([c.installed_at for c in conns], "%Y-%m-%d %H:%M"),
    })


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
    """``page`` plus an ``expires_in`` text column at ``now`` (the instant its statuses were evaluated).

    Where the token will not be used (needs re-auth, revoked, key problems) it says what to do instead."""
    seconds = (page["expires_at"] - pd.Timestamp(now)).dt.total_seconds()
    shown = page.copy()
    shown["expires_in"] = [countdown_cell(code, None if pd.isna(v) else float(v))
                           for v, code in zip(seconds, page["status"], strict=True)]
    return shown


def countdown_cell(code: str, seconds: float | None) -> str:
    """The countdown where the token is in use (a failing refresh is retried, so it still counts down)."""
    if code in status.NO_COUNTDOWN or (status.is_problem(code) and code != "refresh_failing"):
        return INSTEAD_OF_COUNTDOWN.get(code, "see details")
    return format_remaining(seconds)
