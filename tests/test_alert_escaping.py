"""Alert text escapes Slack's control characters: foreign text never becomes a mention or a link."""

from __future__ import annotations

import html
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dashboard.context import build_context
from dashboard.webhooks import alerts
from dashboard.webhooks.alerts import slack_escape
from tests.utils.lifecycle import FAST_RETRY

HOSTILE = ["<!channel>", "<!here|here>", "<http://evil.example/|re-login here>", "<@U123>", "a&b<c>d",
           "&lt;!channel&gt;"]


@given(st.text())
def test_escaped_text_has_no_control_characters_and_reads_back(text: str) -> None:
    shown = slack_escape(text)
    assert "<" not in shown and ">" not in shown
    assert html.unescape(shown) == text  # Slack shows exactly the original text


def test_alert_payload_escapes_a_hostile_domain_and_detail(settings_factory: Any, sandbox: Any,
                                                           alert_sink: Any) -> None:
    hook_url, payloads = alert_sink
    ctx = build_context(settings_factory(dashboard_alert_webhook_url=hook_url), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    try:
        for domain in HOSTILE:
            assert alerts.send_alert(ctx, event="needs_reauth", hub_id=7, hub_domain=domain, status="needs_reauth",
                                     detail=f"HubSpot said {domain}")
    finally:
        ctx.close()
    assert len(payloads) == len(HOSTILE)
    for domain, raw in zip(HOSTILE, payloads, strict=True):
        text = json.loads(raw)["text"]
        assert "<" not in text and ">" not in text
        assert text.count(slack_escape(domain)) == 2  # the domain and the detail, both shown literally
