"""Alert webhook (Slack-compatible): needs re-auth, repeated refresh failures, recovery.

Alerts are best effort: a failing webhook is logged and never breaks a refresh. Payloads carry the
hub id, domain, status and our error sentence — never a token. The ``text`` shown in Slack escapes
Slack's control characters in everything that came from outside.
"""

from __future__ import annotations

import logging
from typing import Any

from dashboard import outbound
from dashboard.context import AppContext
from dashboard.errors import OutboundError
from dashboard.security.terminal_text import escape_controls

log = logging.getLogger(__name__)


def slack_escape(text: str) -> str:
    """Text Slack shows literally: its three control characters escaped, as its message-formatting docs ask.

    A portal domain or an error sentence is foreign text; unescaped, ``<!channel>`` would ping a whole
    channel and ``<http://evil|re-login here>`` would become a link in our alert.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _app_tag(ctx: AppContext) -> str:
    """``[app] `` before an alert's text once several apps are configured (one app: the text as before)."""
    return f"[{slack_escape(ctx.app_id)}] " if ctx.apps is not None and len(ctx.apps) > 1 else ""


def send_alert(ctx: AppContext, *, event: str, hub_id: int, hub_domain: str | None, status: str,
               detail: str, failures: int = 0) -> bool:
    """POST one alert when ``DASHBOARD_ALERT_WEBHOOK_URL`` is set. True when delivered."""
    url = ctx.settings.dashboard_alert_webhook_url
    if url is None:
        return False
    # Foreign text, shown escaped: no control character or bidi override reaches Slack, a log or a terminal.
    hub_domain = escape_controls(hub_domain) if hub_domain is not None else None
    detail = escape_controls(detail)
    name = slack_escape(hub_domain or f"portal {hub_id}")
    shown = slack_escape(detail)
    texts = {
        "needs_reauth": f":red_circle: HubSpot connection {name} ({hub_id}) needs re-authorization: {shown}",
        "refresh_failing": f":warning: HubSpot token refresh for {name} ({hub_id}) failed {failures} times "
                           f"in a row: {shown}",
        "key_problem": f":closed_lock_with_key: HubSpot connection {name} ({hub_id}) cannot be refreshed: {shown}",
        "recovered": f":large_green_circle: HubSpot connection {name} ({hub_id}) recovered",
        "tokens_unsaved": f":rotating_light: Refreshed tokens of {name} ({hub_id}) and any after it are held only "
                          f"in a worker's memory: {shown}",
    }
    payload: dict[str, Any] = {"text": _app_tag(ctx) + texts[event], "event": event, "app": ctx.app_id,
                               "hub_id": hub_id, "hub_domain": hub_domain,
                               "status": status, "consecutive_failures": failures, "detail": detail}
    try:
        outbound.post_json(ctx.http, url.get_secret_value(), payload, timeout=5)
    except OutboundError as exc:
        log.warning("alert webhook failed for hub %s: %s", hub_id, exc)
        return False
    return True


APP_TEXTS = {
    "hubspot_degraded": ":rotating_light: HubSpot looks degraded: refreshes are failing across portals; the "
                        "dashboard probes every 30 s and retries every portal once HubSpot answers",
    "hubspot_recovered": ":large_green_circle: HubSpot answers again; portals that failed during the outage are "
                         "being refreshed now",
    "configuration": ":no_entry: HubSpot refuses the app itself; no portal can be refreshed until this is fixed",
    "configuration_fixed": ":large_green_circle: HubSpot accepts the app again",
    "key_problem": ":closed_lock_with_key: An encryption key cannot open the portals sealed with it",
    "key_fixed": ":large_green_circle: An encryption key opens its portals again",
}


def send_app_alert(ctx: AppContext, *, event: str, detail: str) -> bool:
    """POST one app-wide alert (an outage, a configuration problem, and their ends). True when delivered."""
    url = ctx.settings.dashboard_alert_webhook_url
    if url is None:
        return False
    payload: dict[str, Any] = {"text": f"{_app_tag(ctx)}{APP_TEXTS[event]}: {slack_escape(detail)}",
                               "event": event, "app": ctx.app_id, "hub_id": None, "detail": detail}
    try:
        outbound.post_json(ctx.http, url.get_secret_value(), payload, timeout=5)
    except OutboundError as exc:
        log.warning("app alert webhook failed (%s): %s", event, exc)
        return False
    return True
