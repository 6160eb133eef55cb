"""Issue 23 items 5 and 6: a HubSpot outage is detected, survived with the circuit breaker, and alerted once.

30 due portals, a real refresh worker loop, the sandbox's token endpoint answering 503 to everything for a
while (its fault controls), then recovering. The probe period is 1 s here instead of 30 s
(DASHBOARD_BREAKER_PROBE_SECONDS) so the outage can be 6 probe periods long in a few seconds; the bound on
requests does not depend on the period: the first wave (at most the worker's concurrency, no retries once
tripped), one probe per period, then one grant per portal. bench/outage.py measures the 90 s outage with
the default 30 s period.
"""

from __future__ import annotations

from typing import Any

from dashboard.context import build_context
from dashboard.lifecycle import breaker
from tests.utils.outage import run_outage
from tests.utils.seeding import seed_portals


def test_thirty_portals_through_an_outage(settings_factory: Any, sandbox: Any, alert_sink: Any) -> None:
    url, alerts = alert_sink
    # The default retry policy (3 attempts, 0.2 s first wait): the breaker's effect on in-call retries is part
    # of what is measured.
    ctx = build_context(settings_factory(dashboard_alert_webhook_url=url, dashboard_breaker_probe_seconds=1.0),
                        sandbox_url=sandbox.url)
    try:
        hubs = seed_portals(ctx, sandbox.url, 30)
        result = run_outage(ctx, sandbox.url, hubs, outage_s=6.0, alerts=alerts, deadline_s=60)
        print("\n" + result.line())
        assert result.degraded_seen
        probes = 6 / 1.0 + 1
        assert result.requests_at_trip <= 8 + 2  # the first wave: the worker's concurrency, (almost) no retries
        assert result.requests <= 8 + 2 + probes + 30 <= 47  # first wave, probes, one grant per portal
        assert result.recovered_after_s <= 60
        assert result.alerts == ["hubspot_degraded", "hubspot_recovered"]  # <= 4 messages
        assert not breaker.status(ctx)[breaker.HUBSPOT].active
    finally:
        ctx.close()
