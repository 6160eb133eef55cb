"""The request budget of one portal failing transiently: what it costs HubSpot, bounded and documented.

A transient failure schedules the next attempt after :func:`dashboard.refresh.store.backoff_for` (30 s,
1 min, 2 min, ... capped at an hour) plus up to 10 % jitter, and each attempt is one refresh call of at most
``RetryPolicy.attempts`` requests (in-call retries; none while HubSpot is degraded). The jitter only delays,
so the bound below, computed without it, holds. docs/operations.md states it; tests/lifecycle/test_budget.py
checks it against the functions the refresh path uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

DAY = timedelta(days=1)
DOCUMENTED_PER_DAY = 96
"""Requests per portal per day failing transiently, with the defaults (3 attempts per call): at most this."""


def calls_within(span: timedelta, backoff: Callable[[int], timedelta], *, sweep_interval: timedelta) -> int:
    """Refresh calls one portal can make in ``span`` while every call fails: the first at once, each next one
    ``backoff(failures)`` (never sooner than the next sweep) after the previous."""
    calls, failures, t = 0, 0, timedelta(0)
    while t < span:
        calls += 1
        failures += 1
        t += max(backoff(failures), sweep_interval)
    return calls


def requests_per_day(backoff: Callable[[int], timedelta], *, attempts: int,
                     sweep_interval: timedelta = timedelta(seconds=1)) -> int:
    """Requests HubSpot receives from one portal failing transiently for a day: calls x in-call attempts."""
    return calls_within(DAY, backoff, sweep_interval=sweep_interval) * attempts
