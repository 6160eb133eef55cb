"""Usage of the proxy per minute, portal and API key: counted in memory, flushed to ``api_usage`` in batches.

A call costs a dictionary update under a lock (no database write on the hot path); a daemon thread appends
what was counted every ``FLUSH_EVERY`` seconds as one INSERT, and readers flush first so a caller that just
made calls sees them. Latency is kept as counts per bucket (``BUCKETS_MS``): histograms of several replicas
and minutes add up, and p50/p95 are read off the merged counts (the bucket's upper bound). Rows older than
``KEEP`` are deleted at most once an hour.

The portal's timeline (dashboard/lifecycle/timeline.py) gets the same counts as **one row per portal, key and
minute** (per replica), kind ``proxy``, written by the first flush after the minute has ended, in the same
transaction as that flush's usage rows: ``count`` is the minute's calls, ``duration_ms`` its p95, the
detail the calls by status class and p50, the outcome ``failure`` when any call was not a 2xx/3xx
(HubSpot's 4xx and 5xx, its 429s and ours), else ``success``. A row per call would make the timeline (the
audit log) grow with the traffic, up to HubSpot's 110 calls per 10 s per portal, and bury the events support
reads it for; per minute it grows by at most one row per key that called. Calls from the console and the
CLI are audited one by one (``proxy.call``) and are left out here (``timeline=False``).
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dashboard import repository
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.models import utcnow

log = logging.getLogger(__name__)
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000)
FLUSH_EVERY = 5.0
KEEP = timedelta(days=30)
OUTCOMES = ("s2xx", "s4xx", "s5xx", "limited_local", "limited_hubspot")


def outcome_of(status: int, *, limited_local: bool = False) -> str:
    if limited_local:
        return "limited_local"
    if status == 429:
        return "limited_hubspot"
    return "s2xx" if status < 400 else "s4xx" if status < 500 else "s5xx"


@dataclass
class _Cell:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("calls", *OUTCOMES), 0))
    hist: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))
    caller: str = ""  # the key's audit name, kept for the timeline row

    def add(self, other: _Cell) -> None:
        for name, n in other.counts.items():
            self.counts[name] += n
        self.hist = [a + b for a, b in zip(self.hist, other.hist, strict=True)]
        self.caller = self.caller or other.caller


Slot = tuple[int, datetime, str]  # hub id, minute, key prefix


def timeline_row(slot: Slot, cell: _Cell) -> dict[str, Any]:
    """The timeline's row for one portal, key and minute (see the module docstring)."""
    hub_id, minute, prefix = slot
    c = cell.counts
    p50, p95 = percentile_ms(cell.hist, 0.5), percentile_ms(cell.hist, 0.95)
    detail = (f"{c['calls']} proxied call{'s' if c['calls'] != 1 else ''} (key {prefix}): 2xx {c['s2xx']}, "
              f"4xx {c['s4xx']}, 5xx {c['s5xx']}, 429 from HubSpot {c['limited_hubspot']}, 429 from the proxy "
              f"{c['limited_local']}; p50 <= {p50:g} ms, p95 <= {p95:g} ms")
    return {"at": minute, "actor": cell.caller or f"key {prefix}", "hub_id": hub_id, "action": "proxy",
            "outcome": "success" if c["s2xx"] == c["calls"] else "failure", "detail": detail,
            "fields": {"duration_ms": int(p95 or 0)}, "count": c["calls"]}


def merge_hists(hists: list[str]) -> list[int]:
    merged = [0] * (len(BUCKETS_MS) + 1)
    for text in hists:
        for i, n in enumerate(text.split()[: len(merged)]):
            merged[i] += int(n)
    return merged


def percentile_ms(hist: list[int], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q`` quantile (None without calls)."""
    total = sum(hist)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for i, n in enumerate(hist):
        seen += n
        if seen >= rank and n:
            return float(BUCKETS_MS[i]) if i < len(BUCKETS_MS) else float(BUCKETS_MS[-1])
    return float(BUCKETS_MS[-1])


class UsageRecorder:
    """This process's counts, flushed to the database in the background."""

    def __init__(self, ctx: AppContext, *, timeline: bool = True, clock: Callable[[], datetime] = utcnow) -> None:
        self.ctx = ctx
        self.timeline = timeline
        self.clock = clock  # tests move time past a minute's end
        self._cells: dict[Slot, _Cell] = {}
        self._minutes: dict[Slot, _Cell] = {}  # counted for the timeline until their minute has ended
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at: datetime | None = None

    def record(self, hub_id: int, key_prefix: str, outcome: str, latency_ms: float, *, actor: str) -> None:
        minute = self.clock().replace(second=0, microsecond=0)
        with self._lock:
            cell = self._cells.get((hub_id, minute, key_prefix))
            if cell is None:
                cell = self._cells[(hub_id, minute, key_prefix)] = _Cell(caller=actor)
            cell.counts["calls"] += 1
            cell.counts[outcome] += 1
            cell.hist[bisect.bisect_left(BUCKETS_MS, latency_ms)] += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="proxy-usage-flush", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_EVERY):
            try:
                self.flush()
            except DashboardError as exc:  # the database is away: the counts wait for the next flush
                log.warning("proxy usage: flush failed (%s)", exc.code)

    def flush(self, *, final: bool = False) -> None:
        """Append what was counted since the last flush, and the timeline rows of the minutes that have
        ended (``final``: of every minute); on failure the counts are kept for the next."""
        with self._flush_lock:
            with self._lock:
                cells, self._cells = self._cells, {}
            minutes = self._minutes
            if self.timeline:
                minutes = {slot: _copy(cell) for slot, cell in self._minutes.items()}
                for slot, cell in cells.items():
                    minutes.setdefault(slot, _Cell()).add(cell)
            now = self.clock()
            current = now.replace(second=0, microsecond=0)
            ended = {slot: cell for slot, cell in minutes.items() if final or slot[1] < current}
            if not cells and not ended:
                return
            rows: list[dict[str, Any]] = [
                {"hub_id": hub, "minute": minute, "key_prefix": prefix, **cell.counts,
                 "latency_hist": " ".join(map(str, cell.hist))}
                for (hub, minute, prefix), cell in cells.items()]
            try:
                with self.ctx.session() as session, self.ctx.writing():
                    repository.add_api_usage(session=session, rows=rows)
                    for slot, cell in ended.items():
                        repository.insert_audit_event(session=session, **timeline_row(slot, cell))
                    if self._pruned_at is None or now - self._pruned_at > timedelta(hours=1):
                        repository.delete_api_usage_before(session=session, before=now - KEEP)
                        self._pruned_at = now
                    session.commit()
            except DashboardError:
                with self._lock:
                    for slot, cell in cells.items():
                        self._cells.setdefault(slot, _Cell()).add(cell)
                raise
            self._minutes = {slot: cell for slot, cell in minutes.items() if slot not in ended}

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush(final=True)


def _copy(cell: _Cell) -> _Cell:
    return _Cell(dict(cell.counts), list(cell.hist), cell.caller)


def usage_summary(ctx: AppContext, hub_id: int, *, hours: int, now: datetime | None = None) -> dict[str, Any]:
    """``{"calls", "by_status", "p50_ms", "p95_ms", "error_rate", "minutes": [...]}`` over the last ``hours``."""
    since = (now or utcnow()) - timedelta(hours=hours)
    with ctx.session() as session:
        minutes = repository.api_usage_since(session=session, hub_id=hub_id, since=since)
    totals = dict.fromkeys(("calls", *OUTCOMES), 0)
    hist = [0] * (len(BUCKETS_MS) + 1)
    series = []
    for row in minutes:
        for name in totals:
            totals[name] += int(row[name] or 0)
        row_hist = merge_hists(row["latency_hists"])
        hist = [a + b for a, b in zip(hist, row_hist, strict=True)]
        calls = int(row["calls"] or 0)
        errors = int(row["s4xx"] or 0) + int(row["s5xx"] or 0) + int(row["limited_hubspot"] or 0)
        series.append({"minute": row["minute"].isoformat(), "calls": calls, "errors": errors,
                       "error_rate": errors / calls if calls else 0.0})
    calls = totals["calls"]
    errors = totals["s4xx"] + totals["s5xx"] + totals["limited_hubspot"]
    return {"hub_id": hub_id, "hours": hours, "calls": calls,
            "by_status": {"2xx": totals["s2xx"], "4xx": totals["s4xx"], "5xx": totals["s5xx"],
                          "429_proxy": totals["limited_local"], "429_hubspot": totals["limited_hubspot"]},
            "p50_ms": percentile_ms(hist, 0.5), "p95_ms": percentile_ms(hist, 0.95),
            "error_rate": errors / calls if calls else 0.0, "minutes": series}
