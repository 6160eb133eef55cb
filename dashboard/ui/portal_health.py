"""One portal's health on its details: uptime (24 h / 7 d / 30 d), its state strip, and its timeline.

The timeline is filtered by kind and outcome and paged in SQL (newest first; "Older" continues from the last
row shown). Every text cell is foreign or carries foreign text (HubSpot's answer): shown in dataframe
cells, never as Markdown.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.lifecycle import timeline, uptime
from dashboard.ui.feedback import run_action

PAGE = 50
STATE_COLOURS = {"healthy": "#2e7d32", "failing": "#f9a825", "key_problem": "#6a1b9a", "needs_reauth": "#c62828",
                 "revoked": "#757575", "uninstalled": "#9e9e9e", "none": "#e0e0e0"}


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.2f} %"


def strip_frame(spans: list[uptime.Span]) -> pd.DataFrame:
    # "none" is the time before the portal was connected: named so, since a bare "none" over a long bar read
    # as a problem to support staff (the first install's strip is mostly that span).
    return pd.DataFrame({"from": [s.start for s in spans], "to": [s.end for s in spans],
                         "state": ["not connected yet" if s.state == "none" else s.state for s in spans],
                         "hours": [round((s.end - s.start).total_seconds() / 3600, 2) for s in spans]})


def timeline_frame(entries: list[timeline.TimelineEntry]) -> pd.DataFrame:
    return pd.DataFrame({
        "at": [e.at for e in entries], "kind": [e.kind for e in entries], "outcome": [e.outcome for e in entries],
        "ms": [e.duration_ms for e in entries], "HTTP": [e.http_status for e in entries],
        "HubSpot status": [e.hubspot_status for e in entries], "category": [e.hubspot_category for e in entries],
        "correlationId": [e.correlation_id for e in entries], "attempt": [e.attempt for e in entries],
        "actor": [e.actor for e in entries], "detail": [e.detail for e in entries],
        "HubSpot said": [e.answer for e in entries],
    })


def show(ctx: AppContext, actor: Actor, hub_id: int) -> None:
    st.markdown("**Health**")
    shares = run_action("Computing uptime…", lambda: uptime.uptime(ctx, [hub_id], actor=actor))
    if shares is not None:  # text, not st.metric: the page's tiles are the metrics
        mine = shares.get(hub_id, {})
        st.container(key="conn_uptime").text(
            f"Uptime: 24 h {_pct(mine.get('24h'))} · 7 d {_pct(mine.get('7d'))} · 30 d {_pct(mine.get('30d'))} "
            "(share of time healthy, from the state transitions below)")
    spans = run_action("Loading states…", lambda: uptime.state_strip(ctx, hub_id, actor=actor,
                                                                      window=timedelta(days=7)))
    if spans:
        frame = strip_frame(spans)
        st.caption("States over the last 7 days (oldest first)")
        st.container(key="conn_state_strip").dataframe(frame, hide_index=True, width="stretch", column_config={
            "hours": st.column_config.ProgressColumn("hours", min_value=0, max_value=7 * 24, format="%.2f")})
    st.markdown("**Timeline**")
    facets = run_action("Loading timeline…", lambda: timeline.facets(ctx, hub_id, actor=actor))
    kinds_all, outcomes_all = facets if facets is not None else ([], [])
    f1, f2 = st.columns(2)
    kinds = f1.multiselect("Kind", kinds_all, key=f"tl_kinds_{hub_id}")
    outcomes = f2.multiselect("Outcome", outcomes_all, key=f"tl_outcomes_{hub_id}")
    cursor_key = f"tl_before_{hub_id}"
    filt = (tuple(kinds), tuple(outcomes))
    if st.session_state.get(f"tl_filter_{hub_id}") != filt:  # a new filter starts from the newest
        st.session_state[f"tl_filter_{hub_id}"] = filt
        st.session_state[cursor_key] = None
    before = st.session_state.get(cursor_key)
    entries = run_action("Loading timeline…", lambda: timeline.portal_timeline(
        ctx, hub_id, actor=actor, kinds=tuple(kinds), outcomes=tuple(outcomes), before_id=before, limit=PAGE))
    if entries is None:
        return
    st.container(key="conn_timeline_table").dataframe(timeline_frame(entries), hide_index=True, width="stretch")
    n1, n2, _ = st.columns([1, 1, 4])
    if before is not None and n1.button("Newest", key=f"tl_newest_{hub_id}"):
        st.session_state[cursor_key] = None
        st.rerun()
    if len(entries) == PAGE and n2.button("Older", key=f"tl_older_{hub_id}"):
        st.session_state[cursor_key] = entries[-1].id
        st.rerun()


def fleet(ctx: AppContext, actor: Actor) -> None:
    """Portals per state, hourly, over the last 24 h (from the states of now and the day's transitions)."""
    points = run_action("Loading the fleet's states…", lambda: uptime.fleet_chart(ctx, actor=actor))
    if not points:
        return
    frame = pd.DataFrame([{"time": at, **counts} for at, counts in points])
    shown = [s for s in STATE_COLOURS if s in frame.columns and frame[s].any()]
    st.header("Portals per state, last 24 h")
    if shown:
        st.area_chart(frame, x="time", y=shown, color=[STATE_COLOURS[s] for s in shown], x_label="UTC")
    else:
        st.caption("No portals yet.")


def page_uptime(ctx: AppContext, actor: Actor, hub_ids: list[int], now: datetime) -> list[float | None]:
    """The "Uptime 7 d" column of one page of Connections: one query for the page (None when it fails)."""
    try:
        shares = uptime.uptime(ctx, hub_ids, actor=actor, windows=("7d",), now=now)
    except DashboardError:
        return [None] * len(hub_ids)
    return [shares.get(h, {}).get("7d") for h in hub_ids]
