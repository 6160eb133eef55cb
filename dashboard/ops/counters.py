"""Prometheus counters this process keeps: refreshes, sweeps, token API requests, webhook attempts, proxy calls.

One registry per process, built on first use. Every domain counts into it (the refresh worker, the token API,
the proxy, webhook delivery), so this module imports nothing from ``dashboard``: it sits below all of them.
The gauges read at scrape time and the ``/metrics`` text are in :mod:`dashboard.ops.metrics`. Series a
Prometheus user can keep: every label has a small, stable set of values (no hub id, no pid, no random
worker id), and no label ever holds a token, a key or a URL with secrets.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

WEBHOOK_OUTCOMES = ("succeeded", "retrying", "failed", "lost")
OUTCOMES = ("refreshed", "fresh", "busy", "failed", "needs_reauth", "skipped", "conflict", "stopped", "deferred")


class DeliveryCounts(Protocol):
    """What one webhook delivery pass counted (dashboard.webhooks.delivery.DeliveryPass has these fields)."""

    succeeded: int
    retrying: int
    failed: int
    lost: int


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


def registry() -> CollectorRegistry:
    """This process's registry of counters (for the ``/metrics`` text)."""
    return _get().registry


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


def record_webhook_pass(result: DeliveryCounts) -> None:
    m = _get()
    for outcome in WEBHOOK_OUTCOMES:
        m.webhook_attempts.labels(outcome).inc(getattr(result, outcome))


def record_api_request(endpoint: str, status: int) -> None:
    _get().api_requests.labels(endpoint, str(status)).inc()


def record_proxy_call(outcome: str) -> None:
    """``outcome``: 2xx, 4xx, 5xx, limited_local, limited_hubspot, refused (bad input, before HubSpot)."""
    _get().proxy_calls.labels(outcome).inc()
