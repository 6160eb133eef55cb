"""Prometheus metrics: counters this process keeps, and gauges read from the database at scrape time.

Counters (refreshes by outcome, sweeps, token API requests) and histograms live in one registry per
process, built on first use. Gauges that describe shared state (portals by status, the earliest expiry,
each worker kind's last sweep per host, the spill journal's size) are read when ``/metrics`` is scraped, so
every dashboard process reports the same truth. Series a Prometheus user can keep: every label has a small,
stable set of values (no hub id, no pid, no random worker id: a restart continues the same series), and
every gauge is always present (the earliest expiry is +Inf when nothing expires). No label ever holds a
token, a key or a URL with secrets. Series about connections carry an ``app`` label (the configured app ids:
a small, stable set).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard import journal, repository
from dashboard.context import AppContext
from dashboard.lifecycle import breaker
from dashboard.models import PortalStatus, WorkerHeartbeat, utcnow
from dashboard.webhook_models import WEBHOOK_FAILED, WEBHOOK_PENDING, WEBHOOK_SUCCEEDED
from dashboard.webhooks.delivery import DeliveryPass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WEBHOOK_OUTCOMES = ("succeeded", "retrying", "failed", "lost")
OUTCOMES = ("refreshed", "fresh", "busy", "failed", "needs_reauth", "skipped", "conflict", "stopped", "deferred")


@dataclass
class _Metrics:
    registry: CollectorRegistry
    refreshes: Counter
    refresh_seconds: Histogram
    sweeps: Counter
    sweep_seconds: Histogram
    api_requests: Counter
    webhook_attempts: Counter
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
                refreshes=Counter("dashboard_refreshes", "Refresh attempts by app and outcome (this process).",
                                  ["app", "outcome"], registry=reg),
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
                webhook_attempts=Counter("dashboard_webhook_attempts",
                                         "Webhook delivery attempts by outcome (this process).", ["outcome"],
                                         registry=reg),
                proxy_calls=Counter("dashboard_proxy_calls", "HubSpot proxy calls by outcome (no hub id label).",
                                    ["outcome"], registry=reg),
            )
            for outcome in WEBHOOK_OUTCOMES:
                _metrics.webhook_attempts.labels(outcome)
        return _metrics


def _known_app(m: _Metrics, app: str) -> None:
    """Every outcome series of an app from its first use, so rate() sees the first refresh."""
    with _lock:
        if app not in _apps_seen:
            _apps_seen.add(app)
            for outcome in OUTCOMES:
                m.refreshes.labels(app, outcome)


_apps_seen: set[str] = set()


def record_sweep(worker_id: str, results: Sequence[str], seconds: float, *, failed: bool = False) -> None:
    """One worker pass (over every app it sweeps); its refreshes are counted per app by record_refreshes."""
    m = _get()
    m.sweeps.labels("error" if failed else "ok").inc()
    m.sweep_seconds.observe(seconds)


def record_refreshes(app: str, results: Sequence[str]) -> None:
    m = _get()
    _known_app(m, app)
    for result in results:
        m.refreshes.labels(app, result).inc()


def record_refresh(result: str, seconds: float, *, app: str) -> None:
    m = _get()
    _known_app(m, app)
    m.refreshes.labels(app, result).inc()
    m.refresh_seconds.observe(seconds)


def record_webhook_pass(result: DeliveryPass) -> None:
    m = _get()
    for outcome in WEBHOOK_OUTCOMES:
        m.webhook_attempts.labels(outcome).inc(getattr(result, outcome))


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
        apps = self.ctx.each_app() if self.ctx.apps is not None else [self.ctx]
        portals = GaugeMetricFamily("dashboard_portals", "Portals by app and stored status.",
                                    labels=["app", "status"])
        # Always present, so an alert on it never goes silent: +Inf when no token is waiting to expire.
        expiry = GaugeMetricFamily("dashboard_earliest_expiry_seconds",
                                   "Seconds until the earliest access token of a refreshable portal of the app "
                                   "expires (+Inf when there is none).", labels=["app"])
        known = (PortalStatus.ACTIVE, PortalStatus.REFRESH_FAILING, PortalStatus.NEEDS_REAUTH, PortalStatus.REVOKED,
                 PortalStatus.UNINSTALLED, "key_missing", "undecryptable")
        for app_ctx in apps:
            with app_ctx.session() as session:
                counts = repository.status_counts(session=session)
                earliest = repository.earliest_expiry(session=session, statuses=[PortalStatus.ACTIVE,
                                                                                PortalStatus.REFRESH_FAILING])
            for status in sorted({*known, *counts}):  # a status written by newer code is counted too
                portals.add_metric([app_ctx.app_id, status], counts.get(status, 0))
            expiry.add_metric([app_ctx.app_id], (earliest - now).total_seconds() if earliest is not None else math.inf)
        yield portals
        yield expiry
        with self.ctx.session() as session:
            beats = repository.list_heartbeats(session=session)
            deliveries, oldest_pending = repository.webhook_queue_stats(session=session)
        last = GaugeMetricFamily("dashboard_worker_last_sweep_timestamp_seconds",
                                 "Unix time of the last finished sweep of each worker kind on each host.",
                                 labels=["worker"])
        for label, stamp in sorted(last_sweeps(beats).items()):
            last.add_metric([label], stamp)
        yield last
        by_status = GaugeMetricFamily("dashboard_webhook_deliveries", "Webhook deliveries by stored status.",
                                      labels=["status"])
        for status in sorted({WEBHOOK_PENDING, WEBHOOK_SUCCEEDED, WEBHOOK_FAILED, *deliveries}):
            by_status.add_metric([status], deliveries.get(status, 0))
        yield by_status
        yield GaugeMetricFamily("dashboard_webhook_queue_depth", "Webhook deliveries waiting (pending).",
                                value=deliveries.get(WEBHOOK_PENDING, 0))
        yield GaugeMetricFamily("dashboard_webhook_oldest_pending_age_seconds",
                                "Age of the oldest pending webhook delivery (0 when none waits).",
                                value=(now - oldest_pending).total_seconds() if oldest_pending else 0.0)
        degraded = GaugeMetricFamily("dashboard_hubspot_degraded", "1 while HubSpot is degraded for the app "
                                     "(refreshes behind the circuit breaker), else 0.", labels=["app"])
        refused = GaugeMetricFamily("dashboard_app_configuration_problem", "1 while HubSpot refuses the app itself "
                                    "(client id/secret, redirect URI), else 0.", labels=["app"])
        for app_ctx in apps:
            health = breaker.report(app_ctx)
            degraded.add_metric([app_ctx.app_id], 1.0 if health["hubspot"]["degraded"] else 0.0)
            refused.add_metric([app_ctx.app_id], 1.0 if health["configuration"]["problem"] else 0.0)
        yield degraded
        yield refused
        yield GaugeMetricFamily("dashboard_key_problems", "Encryption key ids that cannot open their portals.",
                                value=float(len(health["keys"])))
        yield GaugeMetricFamily("dashboard_spill_journal_bytes", "Bytes waiting in the spill journal.",
                                value=journal_bytes(self.ctx))
        yield GaugeMetricFamily("dashboard_spill_journal_entries",
                                "Refreshed token pairs waiting in the spill journal for the database.",
                                value=_journal_entries(self.ctx))


def worker_label(kind: str, host: str) -> str:
    """A worker's metric label: its kind and host, never its pid or random id, so a restarted process
    continues the same series (workers of one kind on one host share it: the latest sweep counts)."""
    return f"{kind}:{host}" if host else kind


def last_sweeps(beats: Sequence[WorkerHeartbeat]) -> dict[str, float]:
    """The latest finished sweep (Unix time) per worker label."""
    found: dict[str, float] = {}
    for beat in beats:
        if beat.last_sweep_ended_at is not None:
            label = worker_label(beat.kind, beat.host)
            found[label] = max(found.get(label, 0.0), beat.last_sweep_ended_at.timestamp())
    return found


def render(ctx: AppContext | None) -> bytes:
    """The text exposition: this process's counters, then the shared state (when there is a context)."""
    parts: list[bytes] = [generate_latest(_get().registry)]
    if ctx is not None:
        state = CollectorRegistry(auto_describe=False)
        state.register(_StateCollector(ctx))
        parts.append(generate_latest(state))
    return b"".join(parts)

