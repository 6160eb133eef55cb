"""Prometheus metrics: gauges read from the database at scrape time, and the ``/metrics`` text.

Counters (refreshes by outcome, sweeps, token API requests) and histograms live in one registry per process
(:mod:`dashboard.ops.counters`, below every domain that counts). Gauges that describe shared state (portals by
status, the earliest expiry, each worker kind's last sweep per host, the spill journal's size) are read when
``/metrics`` is scraped, so every dashboard process reports the same truth. Series a Prometheus user can keep:
every label has a small, stable set of values (no hub id, no pid, no random worker id: a restart continues the
same series), and every gauge is always present (the earliest expiry is +Inf when nothing expires). No label
ever holds a token, a key or a URL with secrets. Series about connections carry an ``app`` label (the
configured app ids: a small, stable set).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard import repository
from dashboard.context import AppContext
from dashboard.lifecycle import breaker
from dashboard.models import PortalStatus, WorkerHeartbeat, utcnow
from dashboard.ops.counters import registry
from dashboard.refresh import journal
from dashboard.webhook_models import WEBHOOK_FAILED, WEBHOOK_PENDING, WEBHOOK_SUCCEEDED

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
    parts: list[bytes] = [generate_latest(registry())]
    if ctx is not None:
        state = CollectorRegistry(auto_describe=False)
        state.register(_StateCollector(ctx))
        parts.append(generate_latest(state))
    return b"".join(parts)

