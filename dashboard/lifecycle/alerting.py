"""Alerts follow the state machine, and every alert sent is in the portal's timeline.

One message when a portal enters needs re-auth, one when it has failed past the threshold, one "resolved"
when it is healthy again after a message about it; key problems are alerted once per key
(dashboard/lifecycle/keys.py), HubSpot outages once for the outage and once for its end
(dashboard/lifecycle/breaker.py) instead of once per portal. At most one message per portal per
``DASHBOARD_ALERT_MIN_INTERVAL_SECONDS`` (flapping is damped): a damped message is recorded as
``suppressed``. Sent after the row's transaction committed (a webhook is slow and may fail).
"""

from __future__ import annotations

from datetime import timedelta

from dashboard import repository
from dashboard.context import AppContext
from dashboard.lifecycle.breaker import HUBSPOT, breaker_for
from dashboard.lifecycle.machine import HealthState
from dashboard.lifecycle.transitions import Change
from dashboard.models import Portal, utcnow
from dashboard.webhooks import alerts

ALERT = "alert"
PROBLEM_EVENTS = ("needs_reauth", "refresh_failing")


def _event_for(ctx: AppContext, portal: Portal, change: Change, failures: int) -> str | None:
    if change.after == HealthState.NEEDS_REAUTH and change.moves:
        return "needs_reauth"
    if change.after == HealthState.FAILING and failures == ctx.settings.dashboard_alert_failure_threshold:
        if breaker_for(ctx).conditions(ctx)[HUBSPOT].active:
            return None  # the outage's own message covers it
        return "refresh_failing"
    if change.after == HealthState.HEALTHY and change.moves:
        with ctx.session() as session:
            last = repository.list_timeline(session=session, hub_id=portal.hub_id, kinds=[ALERT], outcomes=["sent"],
                                            limit=1)
        if last and last[0].detail.split(":", 1)[0] in PROBLEM_EVENTS:
            return "recovered"
    return None


def after_change(ctx: AppContext, portal: Portal, change: Change, *, failures: int, detail: str,
                 actor: str) -> str | None:
    """Send the alert ``change`` calls for, if any and not damped; record it in the timeline. The event sent."""
    if ctx.settings.dashboard_alert_webhook_url is None:
        return None
    event = _event_for(ctx, portal, change, failures)
    if event is None:
        return None
    now = utcnow()
    interval = timedelta(seconds=ctx.settings.dashboard_alert_min_interval_seconds)
    with ctx.session() as session:
        recent = repository.list_timeline(session=session, hub_id=portal.hub_id, kinds=[ALERT], outcomes=["sent"],
                                          since=now - interval, limit=1) if interval else []
    if recent:
        outcome = "suppressed"
    else:
        sent = alerts.send_alert(ctx, event=event, hub_id=portal.hub_id, hub_domain=portal.hub_domain,
                                 status=str(change.after), detail=detail, failures=failures)
        outcome = "sent" if sent else "failed"
    with ctx.session() as session, ctx.writing():
        repository.insert_audit_event(session=session, at=now, actor=actor[:320], hub_id=portal.hub_id,
                                      action=ALERT, outcome=outcome, detail=f"{event}: {detail}"[:1000])
        session.commit()
    return event if outcome == "sent" else None
