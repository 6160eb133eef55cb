"""Activity: the audit log (filters kept in the URL, export), then refresh successes and failures over time."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from dashboard.connections import activity
from dashboard.connections.export import audit_csv
from dashboard.errors import DashboardError
from dashboard.hubspot.authorize import parse_account_id
from dashboard.models import utcnow
from dashboard.ui import activity_view as av
from dashboard.ui import portal_health
from dashboard.ui.downloads import download_button
from dashboard.ui.layout import start_page
from dashboard.ui.text import md

LOG_LIMIT = 2000
ctx, actor = start_page("Activity")

# Every filter is bound to the URL: a link in a ticket opens the same view, and a reload keeps it.
hub_col, action_col, outcome_col, who_col, range_col = st.columns(5)
hub_text = hub_col.text_input("Portal (hub id)", key="act_hub", bind="query-params")
action = action_col.selectbox("Action", av.ACTIONS, index=None, key="act_action", placeholder="any action",
                              accept_new_options=True, bind="query-params")
outcome = outcome_col.selectbox("Outcome", av.OUTCOMES, index=None, key="act_outcome", placeholder="any outcome",
                                bind="query-params")
who = who_col.text_input("Actor", key="act_actor", placeholder="e.g. local-admin", bind="query-params")
window = range_col.selectbox("Time range", list(av.RANGES), index=1, key="act_range", bind="query-params")
now = utcnow()
days: tuple[date, ...] = ()
if window == "Custom dates":
    picked = st.date_input("Dates (UTC)", value=(now.date() - timedelta(days=7), now.date()), key="act_dates")
    days = picked if isinstance(picked, tuple) else (picked,) if isinstance(picked, date) else ()
since, until = av.time_window(window or "Last 24 hours", now, days)

try:
    hub_id = parse_account_id(hub_text)
    with st.spinner("Loading the audit log…"):
        events = activity.audit_events(ctx, actor=actor, hub_id=hub_id, action=action or None,
                                       outcome=outcome, who=who.strip() or None, since=since, until=until,
                                       limit=LOG_LIMIT)
        refreshes = activity.audit_events(ctx, actor=actor, hub_id=hub_id, action="refresh", since=since,
                                          until=until, outcome=outcome, who=who.strip() or None, limit=20000)
        domains = activity.hub_domains(ctx, actor=actor, hub_ids=[e.hub_id for e in events if e.hub_id])
except DashboardError as exc:
    st.error(md(exc))
    st.stop()

heading, export = st.columns([4, 1], vertical_alignment="bottom")
heading.header(av.log_heading(len(events), LOG_LIMIT))
download_button(export, "Export CSV", make=lambda: audit_csv(events, domains), file_name="audit-log.csv",
                mime="text/csv", key="act_export", disabled=not events, stretch=True,
                help="The events listed below (these filters), as a spreadsheet-safe CSV")
if not events:
    st.info("No audit events match these filters.")
else:
    st.container(key="act_table").dataframe(
        av.events_frame(events, domains), hide_index=True, width="stretch", height=min(420, 38 + 35 * len(events)),
        column_order=av.log_columns(ctx.apps is not None and len(ctx.apps) > 1),
        column_config={"at": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                       "actor": st.column_config.TextColumn("Actor"),
                       "hub_id": st.column_config.NumberColumn("Hub id", format="%d", width="small"),
                       "hub_domain": st.column_config.TextColumn("Domain"),
                       "app": st.column_config.TextColumn("App", width="small"),
                       "action": st.column_config.TextColumn("Action", width="small"),
                       "outcome": st.column_config.TextColumn("Outcome", width="small"),
                       "detail": st.column_config.TextColumn("Detail", width=440,
                                                             help="Hover a cell or widen the column to read more")})

st.header("Refreshes over time")
buckets = av.refresh_buckets(refreshes, av.RANGES.get(window or ""), outcome)
shown = [c for c in ("success", "failure") if c in buckets.columns]
if buckets.empty or (action and action != "refresh"):
    st.caption("No refreshes match these filters.")
else:
    colours = {"success": "#00a38d", "failure": "#d9363e"}
    st.bar_chart(buckets, x="time", y=shown, color=[colours[c] for c in shown], sort=False, x_label="UTC",
                 height=200)

portal_health.fleet(ctx, actor)
