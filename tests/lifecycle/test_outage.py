"""Issue 23 items 5 and 6: a HubSpot outage is detected, survived with the circuit breaker, and alerted once.

30 due portals, a real refresh worker loop, the sandbox's token endpoint answering 503 to everything for a
while (its fault controls), then recovering. The probe period is 1 s here instead of 30 s
(DASHBOARD_BREAKER_PROBE_SECONDS) so the outage can be 6 probe periods long in a few seconds. The bounds on
requests come from the breaker's rules and the measured intervals, not from how fast a loaded machine runs:
the first wave (the worker's concurrency; retries only before the fifth portal fails), one probe per period,
then one grant per portal. bench/outage.py measures the 90 s outage with the default 30 s period.
"""

from __future__ import annotations

import math
from typing import Any

from dashboard.context import build_context
from dashboard.hubspot.client import RetryPolicy
from dashboard.lifecycle import breaker
from tests.utils.outage import run_outage
from tests.utils.seeding import seed_portals

PROBE_S = 1.0
CONCURRENCY = 8  # run_outage's worker
ATTEMPTS = RetryPolicy().attempts  # the default in-call retry policy: 3 attempts


def probes_within(seconds: float) -> int:
    """The breaker's rule: at most one probe per period (a conditional UPDATE on the condition's probe_at), so
    an interval of ``seconds`` holds at most this many probe requests."""
    return math.floor(seconds / PROBE_S) + 1


# The first wave, from the rules and not from timing: a failed attempt may be retried only while fewer than
# MIN_PORTALS portals have failed (the (MIN_PORTALS)th distinct portal's failure trips the breaker; after it
# the detector's verdict forbids every retry), so only the first MIN_PORTALS - 1 failing portals retry, each
# at most ATTEMPTS - 1 times; a worker takes a new portal only once its call ended, which before the trip
# means those same portals' calls (all attempts spent). On an idle machine it is exactly the concurrency.
FIRST_WAVE = CONCURRENCY + (breaker.MIN_PORTALS - 1) * ATTEMPTS


def test_thirty_portals_through_an_outage(settings_factory: Any, sandbox: Any, alert_sink: Any) -> None:
    url, alerts = alert_sink
    # The default retry policy (3 attempts, 0.2 s first wait): the breaker's effect on in-call retries is part
    # of what is measured.
    ctx = build_context(settings_factory(dashboard_alert_webhook_url=url, dashboard_breaker_probe_seconds=PROBE_S),
                        sandbox_url=sandbox.url)
    try:
        hubs = seed_portals(ctx, sandbox.url, 30)
        result = run_outage(ctx, sandbox.url, hubs, outage_s=6.0, alerts=alerts, deadline_s=60)
        print("\n" + result.line())
        assert result.degraded_seen
        # In-call retries stop at the trip: only calls of the first MIN_PORTALS - 1 failing portals retried.
        assert result.retried_calls <= breaker.MIN_PORTALS - 1
        # When the test saw "degraded" (late on a loaded machine), the first wave and the probes since the trip.
        assert result.requests_at_trip <= FIRST_WAVE + probes_within(result.trip_seen_after_s)
        # From then on the count stays flat: one probe per period while faulted, then one grant per portal
        # (the probe that succeeds is one of them). Nothing else: no retries, no sweeps of the deferred portals.
        after_trip = result.requests - result.requests_at_trip
        assert after_trip <= probes_within(result.degraded_s) + len(hubs)
        assert result.recovered_after_s <= 60
        assert result.alerts == ["hubspot_degraded", "hubspot_recovered"]  # <= 4 messages
        assert not breaker.status(ctx)[breaker.HUBSPOT].active
    finally:
        ctx.close()
