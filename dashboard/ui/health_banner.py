"""The app-wide health banner on every page: HubSpot degraded, the app refused by HubSpot, key problems.

One read of the shared conditions per page run (dashboard/lifecycle/breaker.py). Reasons hold HubSpot's
answer: foreign text, escaped with ``md``.
"""

from __future__ import annotations

import logging
from datetime import datetime

import streamlit as st

from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.lifecycle import breaker
from dashboard.ui.text import md

log = logging.getLogger(__name__)


def _when(iso: object) -> str:
    """``2026-12-05 14:12:16 UTC`` for the report's ISO time (a support person reads it; JSON keeps ISO)."""
    try:
        return f"{datetime.fromisoformat(str(iso)):%Y-%m-%d %H:%M:%S} UTC"
    except ValueError:
        return str(iso)


def _sentence(text: object) -> str:
    """HubSpot's message often ends with its own full stop: one, not two."""
    return str(text).rstrip().rstrip(".")


def banner_lines(report: dict[str, object], *, probe_s: float = 30.0) -> list[str]:
    """The banner's sentences (plain text, foreign parts still raw: escape them to show)."""
    lines: list[str] = []
    hubspot = report["hubspot"]
    assert isinstance(hubspot, dict)
    if hubspot["degraded"]:
        lines.append(f"HubSpot degraded since {_when(hubspot['since'])}: {_sentence(hubspot['reason'])}. "
                     f"Refreshes are paused: one probe refresh every {probe_s:g} s until HubSpot answers again, "
                     "then every portal is retried at once.")
    config = report["configuration"]
    assert isinstance(config, dict)
    if config["problem"]:
        lines.append(f"HubSpot refuses this app (since {_when(config['since'])}): {config['reason']}")
    keys = report["keys"]
    assert isinstance(keys, list)
    for key in keys:
        lines.append(f"Encryption key {key['key_id']!r}: {key['reason']}")
    return lines


def health_banner(ctx: AppContext) -> None:
    try:
        lines = banner_lines(breaker.report(ctx), probe_s=ctx.settings.dashboard_breaker_probe_seconds)
    except DashboardError as exc:  # the database is down: the pages say so themselves
        log.warning("health banner: %s", exc)
        return
    for line in lines:
        st.error(md(line), icon="🚨")
