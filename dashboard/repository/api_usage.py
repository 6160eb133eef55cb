"""Per-minute usage of the HubSpot proxy: rows appended by each replica's flush, summed when read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session, col

from dashboard.models import ApiUsage
from dashboard.repository._common import session_app

_TABLE = ApiUsage.metadata.tables["api_usage"]
COUNTERS = ("calls", "s2xx", "s4xx", "s5xx", "limited_local", "limited_hubspot")


def add_api_usage(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append usage rows (hub_id, minute, key_prefix, the counters, latency_hist); one INSERT."""
    if rows:
        app = session_app(session)
        session.connection().execute(insert(_TABLE), [{"app": app, **row} for row in rows])


def api_usage_since(*, session: Session, hub_id: int, since: datetime) -> list[dict[str, Any]]:
    """The portal's usage per minute since ``since`` (every key and replica summed), oldest first, with
    the latency histograms of each minute's rows (to be merged by the caller)."""
    sums = [func.sum(col(getattr(ApiUsage, name))).label(name) for name in COUNTERS]
    stmt = (select(col(ApiUsage.minute), *sums, func.count().label("rows"))
            .where(col(ApiUsage.app) == session_app(session), col(ApiUsage.hub_id) == hub_id,
                   col(ApiUsage.minute) >= since)
            .group_by(col(ApiUsage.minute)).order_by(col(ApiUsage.minute)))
    minutes = [dict(row._mapping) for row in session.execute(stmt)]
    hists = select(col(ApiUsage.minute), col(ApiUsage.latency_hist)).where(
        col(ApiUsage.app) == session_app(session), col(ApiUsage.hub_id) == hub_id, col(ApiUsage.minute) >= since)
    by_minute: dict[datetime, list[str]] = {}
    for minute, hist in session.execute(hists):
        by_minute.setdefault(minute, []).append(hist)
    for row in minutes:
        row["latency_hists"] = by_minute.get(row["minute"], [])
    return minutes


def api_usage_totals(*, session: Session, since: datetime) -> dict[int, dict[str, int]]:
    """Calls and errors per portal since ``since`` (for sorting the Connections page)."""
    stmt = (select(col(ApiUsage.hub_id), func.sum(col(ApiUsage.calls)),
                   func.sum(col(ApiUsage.s4xx) + col(ApiUsage.s5xx)))
            .where(col(ApiUsage.app) == session_app(session), col(ApiUsage.minute) >= since)
            .group_by(col(ApiUsage.hub_id)))
    return {int(h): {"calls": int(c or 0), "errors": int(e or 0)} for h, c, e in session.execute(stmt)}


def delete_api_usage_before(*, session: Session, before: datetime) -> int:
    result = session.connection().execute(delete(_TABLE).where(_TABLE.c.minute < before))
    return int(getattr(result, "rowcount", 0) or 0)
