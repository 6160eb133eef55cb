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
from dashboard.terminal_text import escape_controls

log = logging.getLogger(__name__)


def slack_escape(text: str) -> str:
    """Text Slack shows literally: its three control characters escaped, as its message-formatting docs ask.

    A portal domain or an error sentence is foreign text; unescaped, ``<!channel>`` would ping a whole
    channel and ``<http://evil|re-login here>`` would become a link in our alert.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    }
    payload: dict[str, Any] = {"text": texts[event], "event": event, "hub_id": hub_id, "hub_domain": hub_domain,
                               "status": status, "consecutive_failures": failures, "detail": detail}
    try:
        outbound.post_json(ctx.http, url.get_secret_value(), payload, timeout=5)
    except OutboundError as exc:
        log.warning("alert webhook failed for hub %s: %s", hub_id, exc)
        return False
    return True
