"""Proxied calls in the portal's timeline: one row per portal, key and minute, written once the minute has ended,
in the flush that writes the usage rows (dashboard/proxy/usage.py)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import repository
from dashboard.context import AppContext
from dashboard.lifecycle import timeline
from dashboard.models import AuditEvent
from dashboard.proxy.usage import OUTCOMES, UsageRecorder
from tests.proxy.conftest import CONTACTS, Api
from tests.utils.lifecycle import ADMIN

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_hubs = itertools.count(9_000_000)  # each hypothesis example its own portals: the database is the test's


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def proxy_rows(ctx: AppContext, hub_id: int) -> list[AuditEvent]:
    with ctx.session() as session:
        return repository.list_audit_events(session=session, hub_id=hub_id, action="proxy")


def test_proxied_calls_become_one_timeline_row_per_key_and_minute(
        ctx: AppContext, hub: int, make_api: Callable[..., Api]) -> None:
    api = make_api()
    for _ in range(3):
        assert api.call("GET", hub, CONTACTS + "?limit=1").status_code == 200
    assert api.call("GET", hub, CONTACTS + "/100000").status_code == 404
    api.backend.proxy.usage.flush(final=True)  # what a server does when it stops; else once the minute ends
    (entry,) = timeline.portal_timeline(ctx, hub, actor=ADMIN, kinds=("proxy",))
    assert entry.outcome == "failure" and entry.actor == "api:svc0"
    assert entry.detail.startswith("4 proxied calls (key ") and "2xx 3, 4xx 1, 5xx 0" in entry.detail
    assert entry.duration_ms is not None and entry.duration_ms > 0  # the minute's p95 (a bucket's bound)
    assert "proxy" in timeline.facets(ctx, hub, actor=ADMIN)[0]
    (row,) = proxy_rows(ctx, hub)
    assert row.count == 4


def test_a_minute_is_written_to_the_timeline_once_it_has_ended(ctx: AppContext) -> None:
    clock, hub = Clock(), next(_hubs)
    usage = UsageRecorder(ctx, clock=clock)
    usage.record(hub, "k1", "s2xx", 12, actor="api:one")
    clock.now = T0 + timedelta(seconds=30)
    usage.record(hub, "k1", "s2xx", 40, actor="api:one")
    usage.flush()  # the usage rows go; the minute is still running
    assert proxy_rows(ctx, hub) == []
    clock.now = T0 + timedelta(seconds=50)
    usage.record(hub, "k1", "limited_hubspot", 300, actor="api:one")
    clock.now = T0 + timedelta(seconds=61)
    usage.flush()
    (row,) = proxy_rows(ctx, hub)
    assert (row.at, row.count, row.outcome, row.actor) == (T0, 3, "failure", "api:one")
    assert "429 from HubSpot 1" in row.detail and row.duration_ms == 500
    usage.flush()
    assert len(proxy_rows(ctx, hub)) == 1  # written once
    console = UsageRecorder(ctx, clock=clock, timeline=False)  # the console's calls are audited one by one
    console.record(hub, "console", "s2xx", 5, actor="api:someone")
    console.flush(final=True)
    assert len(proxy_rows(ctx, hub)) == 1


calls = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["ka", "kb"]), st.sampled_from(OUTCOMES),
                           st.floats(0, 70_000), st.integers(0, 3), st.booleans()), max_size=60)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=calls)
def test_timeline_rows_are_bounded_by_the_slots_and_add_up_to_the_calls(
        ctx: AppContext, calls: list[tuple[int, str, str, float, int, bool]]) -> None:
    """Random calls over three portals, two keys and four minutes, flushed at random points: one row per
    (portal, key, minute) that had calls, whatever the number of calls and flushes; counts add up; a row
    is a failure exactly when one of its calls was not a 2xx."""
    clock, base = Clock(), next(_hubs) * 10
    usage = UsageRecorder(ctx, clock=clock)
    expected: Counter[tuple[int, datetime, str]] = Counter()
    failed: set[tuple[int, datetime, str]] = set()
    for hub_offset, prefix, outcome, latency, minute, flush in sorted(calls, key=lambda c: c[4]):
        clock.now = T0 + timedelta(minutes=minute, seconds=30)
        usage.record(base + hub_offset, prefix, outcome, latency, actor=f"api:{prefix}")
        slot = (base + hub_offset, T0 + timedelta(minutes=minute), prefix)
        expected[slot] += 1
        if outcome != "s2xx":
            failed.add(slot)
        if flush:
            usage.flush()
    usage.flush(final=True)
    rows = [r for h in range(3) for r in proxy_rows(ctx, base + h)]
    assert len(rows) == len(expected)  # the bound: one row per slot
    by_slot = {(r.hub_id, r.at, r.detail.split("(key ")[1].split(")")[0]): r for r in rows}
    assert {s: r.count for s, r in by_slot.items()} == dict(expected)
    assert {s for s, r in by_slot.items() if r.outcome == "failure"} == failed
    with ctx.session() as session:
        totals = repository.api_usage_totals(session=session, since=T0 - timedelta(days=1))
    assert sum(totals.get(base + h, {}).get("calls", 0) for h in range(3)) == len(calls)
