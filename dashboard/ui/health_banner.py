"""The app-wide health banner on every page: HubSpot degraded, the app refused by HubSpot, key problems.

One read of the shared conditions per page run (dashboard/lifecycle/breaker.py). Reasons hold HubSpot's
answer: foreign text, escaped with ``md``.
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.lifecycle import breaker
from dashboard.ui.text import md

log = logging.getLogger(__name__)


def banner_lines(report: dict[str, object]) -> list[str]:
    """The banner's sentences (plain text, foreign parts still raw: escape them to show)."""
    lines: list[str] = []
    hubspot = report["hubspot"]
    assert isinstance(hubspot, dict)
    if hubspot["degraded"]:
        lines.append(f"HubSpot degraded since {hubspot['since']} UTC: {hubspot['reason']}. Refreshes are paused "
                     "behind one probe at a time; every portal is retried once HubSpot answers.")
    config = report["configuration"]
    assert isinstance(config, dict)
    if config["problem"]:
        lines.append(f"HubSpot refuses this app (since {config['since']} UTC): {config['reason']}")
    keys = report["keys"]
    assert isinstance(keys, list)
    for key in keys:
        lines.append(f"Encryption key {key['key_id']!r}: {key['reason']}")
    return lines


def health_banner(ctx: AppContext) -> None:
    try:
        lines = banner_lines(breaker.report(ctx))
    except DashboardError as exc:  # the database is down: the pages say so themselves
        log.warning("health banner: %s", exc)
        return
    for line in lines:
        st.error(md(line), icon="🚨")
