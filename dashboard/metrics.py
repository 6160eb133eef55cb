"""Prometheus metrics: counters this process keeps, and gauges read from the database at scrape time.

Counters (refreshes by outcome, sweeps, token API requests) and histograms live in one registry per
process, built on first use. Gauges that describe shared state (portals by status, the earliest expiry,
each worker's last sweep, the spill journal's size) are read when ``/metrics`` is scraped, so every
dashboard process reports the same truth. No label ever holds a token, a key or a URL with secrets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard import journal, repository
from dashboard.context import AppContext
from dashboard.models import PortalStatus, utcnow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = ("refreshed", "fresh", "busy", "failed", "needs_reauth", "skipped", "conflict", "stopped")


@dataclass
class _Metrics:
    registry: CollectorRegistry
    refreshes: Counter
    refresh_seconds: Histogram
    sweeps: Counter
    sweep_seconds: Histogram
    api_requests: Counter
    proxy_calls: Counter


_lock = threading.Lock()
_metrics: _Metrics | None = None


def _get() -> _Metrics:
    global _metrics  # one registry per process
    with _lock:
        if _metrics is None:
            reg = CollectorRegistry(auto_describe=True)
            _metrics = _Metrics(
                registry=reg,
                refreshes=Counter("dashboard_refreshes", "Refresh attempts by outcome (this process).",
                                  ["outcome"], registry=reg),
                refresh_seconds=Histogram("dashboard_refresh_duration_seconds",
                                          "Duration of single-portal refreshes (token API, forced).",
                                          registry=reg),
                sweeps=Counter("dashboard_sweeps", "Worker sweeps by result (this process).", ["result"],
                               registry=reg),
                sweep_seconds=Histogram("dashboard_sweep_duration_seconds", "Duration of worker sweeps.",
                                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
                                        registry=reg),
                api_requests=Counter("dashboard_token_api_requests", "Token API requests by endpoint and status.",
                                     ["endpoint", "status"], registry=reg),
                proxy_calls=Counter("dashboard_proxy_calls", "HubSpot proxy calls by outcome (no hub id label).",
                                    ["outcome"], registry=reg),
            )
            for outcome in OUTCOMES:  # every series from the start, so rate() sees the first one
                _metrics.refreshes.labels(outcome)
        return _metrics


def record_sweep(worker_id: str, results: Sequence[str], seconds: float, *, failed: bool = False) -> None:
    m = _get()
    m.sweeps.labels("error" if failed else "ok").inc()
    m.sweep_seconds.observe(seconds)
    for result in results:
        m.refreshes.labels(result).inc()


def record_refresh(result: str, seconds: float) -> None:
    m = _get()
    m.refreshes.labels(result).inc()
    m.refresh_seconds.observe(seconds)


def record_api_request(endpoint: str, status: int) -> None:
    _get().api_requests.labels(endpoint, str(status)).inc()


def record_proxy_call(outcome: str) -> None:
    """``outcome``: 2xx, 4xx, 5xx, limited_local, limited_hubspot, refused (bad input, before HubSpot)."""
    _get().proxy_calls.labels(outcome).inc()


def _journal_entries(ctx: AppContext) -> int:
    try:
        return journal.size(ctx)
    except OSError:  # unreadable journal: the bytes gauge still shows it is there
        return -1


def journal_bytes(ctx: AppContext) -> int:
    """Size of the spill journal file (0 when there is none)."""
    try:
        return journal.path(ctx).stat().st_size
    except OSError:
        return 0


class _StateCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with self.ctx.session() as session:
            counts = repository.status_counts(session=session)
            earliest = repository.earliest_expiry(session=session, statuses=[PortalStatus.ACTIVE,
                                                                            PortalStatus.REFRESH_FAILING])
            beats = repository.list_heartbeats(session=session)
        portals = GaugeMetricFamily("dashboard_portals", "Portals by stored status.", labels=["status"])
        known = (PortalStatus.ACTIVE, PortalStatus.REFRESH_FAILING, PortalStatus.NEEDS_REAUTH, PortalStatus.REVOKED,
                 PortalStatus.UNINSTALLED)
        for status in sorted({*known, *counts}):  # a status written by newer code is counted too
            portals.add_metric([status], counts.get(status, 0))
        yield portals
        if earliest is not None:
            yield GaugeMetricFamily("dashboard_earliest_expiry_seconds",
                                    "Seconds until the earliest access token of a refreshable portal expires.",
                                    value=(earliest - now).total_seconds())
        last = GaugeMetricFamily("dashboard_worker_last_sweep_timestamp_seconds",
                                 "Unix time of each worker's last finished sweep.", labels=["worker"])
        for beat in beats:
            if beat.last_sweep_ended_at is not None:
                last.add_metric([beat.worker_id], beat.last_sweep_ended_at.timestamp())
        yield last
        yield GaugeMetricFamily("dashboard_spill_journal_bytes", "Bytes waiting in the spill journal.",
                                value=journal_bytes(self.ctx))
        yield GaugeMetricFamily("dashboard_spill_journal_entries",
                                "Refreshed token pairs waiting in the spill journal for the database.",
                                value=_journal_entries(self.ctx))


def render(ctx: AppContext | None) -> bytes:
    """The text exposition: this process's counters, then the shared state (when there is a context)."""
    parts: list[bytes] = [generate_latest(_get().registry)]
    if ctx is not None:
        state = CollectorRegistry(auto_describe=False)
        state.register(_StateCollector(ctx))
        parts.append(generate_latest(state))
    return b"".join(parts)

