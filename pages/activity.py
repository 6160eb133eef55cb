"""Activity: the audit log with filters, and refresh successes and failures over time."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from dashboard import activity
from dashboard.errors import DashboardError
from dashboard.hubspot.authorize import parse_account_id
from dashboard.models import utcnow
from dashboard.ui import activity_view as av
from dashboard.ui import portal_health
from dashboard.ui.layout import start_page
from dashboard.ui.text import md

ctx, actor = start_page("Activity")

hub_col, action_col, outcome_col, who_col, range_col = st.columns(5)
hub_text = hub_col.text_input("Portal (hub id)", key="act_hub")
action = action_col.selectbox("Action", av.ACTIONS, index=None, key="act_action", placeholder="any action",
                              accept_new_options=True)
outcome = outcome_col.selectbox("Outcome", av.OUTCOMES, index=None, key="act_outcome", placeholder="any outcome")
who = who_col.text_input("Actor", key="act_actor", placeholder="e.g. local-admin")
window = range_col.selectbox("Time range", list(av.RANGES), index=1, key="act_range")
now = utcnow()
days: tuple[date, ...] = ()
if window == "Custom dates":
    picked = st.date_input("Dates (UTC)", value=(now.date() - timedelta(days=7), now.date()), key="act_dates")
    days = picked if isinstance(picked, tuple) else (picked,) if isinstance(picked, date) else ()
since, until = av.time_window(window, now, days)

try:
    hub_id = parse_account_id(hub_text)
    with st.spinner("Loading the audit log…"):
        events = activity.audit_events(ctx, actor=actor, hub_id=hub_id, action=action or None,
                                       outcome=outcome, who=who.strip() or None, since=since, until=until,
                                       limit=2000)
        refreshes = activity.audit_events(ctx, actor=actor, hub_id=hub_id, action="refresh", since=since,
                                          until=until, outcome=outcome, who=who.strip() or None, limit=20000)
except DashboardError as exc:
    st.error(md(exc))
    st.stop()

st.subheader("Refreshes over time")
buckets = av.refresh_buckets(refreshes, av.RANGES.get(window), outcome)
shown = [c for c in ("success", "failure") if c in buckets.columns]
if buckets.empty or (action and action != "refresh"):
    st.caption("No refreshes match these filters.")
else:
    colours = {"success": "#00bda5", "failure": "#f2545b"}
    st.bar_chart(buckets, x="time", y=shown, color=[colours[c] for c in shown], sort=False, x_label="UTC")

portal_health.fleet(ctx, actor)

st.subheader(f"Audit log ({len(events)} events{', newest 2000 shown' if len(events) == 2000 else ''})")
if not events:
    st.info("No audit events match these filters.")
else:
    st.container(key="act_table").dataframe(av.events_frame(events), hide_index=True, width="stretch",
                 column_config={"at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                                "hub_id": st.column_config.NumberColumn("hub id", format="%d")})
