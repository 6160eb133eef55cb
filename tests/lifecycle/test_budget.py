"""Issue 23 item 7: a portal failing transiently for a day costs HubSpot a bounded, documented number of
requests: the refresh path's own backoff (with jitter) and the client's in-call attempts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dashboard.hubspot.client import RetryPolicy
from dashboard.lifecycle.budget import DOCUMENTED_PER_DAY, calls_within, requests_per_day
from dashboard.refresh.store import backoff_for, jittered_backoff

ROOT = Path(__file__).resolve().parents[2]


def test_a_day_of_transient_failures_stays_within_the_documented_budget() -> None:
    per_day = requests_per_day(backoff_for, attempts=RetryPolicy().attempts)
    print(f"\none portal failing transiently for a day: at most {per_day} refresh requests")
    assert per_day <= DOCUMENTED_PER_DAY
    assert f"at most {DOCUMENTED_PER_DAY} refresh requests" in (ROOT / "docs" / "operations.md").read_text()


@given(st.integers(min_value=1, max_value=10**6))
def test_jitter_only_delays(failures: int) -> None:
    base = backoff_for(failures)
    assert base <= jittered_backoff(failures) <= base * 1.1


@given(st.floats(min_value=1, max_value=3600))
def test_jitter_and_a_slower_worker_cost_no_more(interval_s: float) -> None:
    bound = calls_within(timedelta(days=1), backoff_for, sweep_interval=timedelta(seconds=1))
    assert calls_within(timedelta(days=1), jittered_backoff, sweep_interval=timedelta(seconds=interval_s)) <= bound
    assert bound * RetryPolicy().attempts <= DOCUMENTED_PER_DAY
