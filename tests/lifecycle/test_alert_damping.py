"""Issue 23 item 6: alerts follow the state machine, at most one message per portal per
DASHBOARD_ALERT_MIN_INTERVAL_SECONDS, and every alert (sent or damped) is in the portal's timeline."""

from __future__ import annotations

import json
from typing import Any

from dashboard import repository
from dashboard.context import build_context
from dashboard.refresh import service as refresh
from tests.utils.lifecycle import ADMIN, FAST_RETRY, control, install_portal


def test_a_flapping_portal_sends_one_message_per_interval(settings_factory: Any, sandbox: Any,
                                                         alert_sink: Any) -> None:
    hook_url, payloads = alert_sink
    ctx = build_context(settings_factory(dashboard_alert_webhook_url=hook_url, dashboard_alert_failure_threshold=1),
                        sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        hub = install_portal(ctx, sandbox.url).hub_id
        for _ in range(3):  # fail, recover, fail, recover, ...: flapping
            control(sandbox.url, "faults", {"target": "token", "error_rate": 1.0, "error_status": 502})
            assert refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True).result == "failed"
            control(sandbox.url, "faults", {"target": "token"})
            assert refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True).result == "refreshed"
        with ctx.session() as s:
            alerts = repository.list_timeline(session=s, hub_id=hub, kinds=["alert"])
    finally:
        ctx.close()
    assert [json.loads(p)["event"] for p in payloads] == ["refresh_failing"]  # one message in 900 s
    # failing, recovered, failing, recovered, failing, recovered: the first sent, the rest damped
    assert [a.outcome for a in reversed(alerts)] == ["sent"] + ["suppressed"] * 5
    assert [a.detail.split(":")[0] for a in reversed(alerts)] == ["refresh_failing", "recovered"] * 3
