"""Connections (home): metrics, charts, the live table, details and actions for the selected portals."""

from __future__ import annotations

import streamlit as st

from dashboard.errors import DashboardError
from dashboard.export import connections_csv
from dashboard.models import utcnow
from dashboard.ui import connection_details, connections_table
from dashboard.ui.connections_view import load_connections_view
from dashboard.ui.layout import start_page
from dashboard.ui.pending_installs_view import show_pending_installs
from dashboard.ui.text import md
from dashboard.ui.worker_status import show_sweep_status

ctx, actor = start_page("Connections")
show_sweep_status(ctx, actor)
show_pending_installs(ctx, actor)

filters, sort = connections_table.filter_bar()
try:
    view = load_connections_view(ctx, actor=actor, filters=filters, now=utcnow(), sort=sort)
except DashboardError as exc:
    st.error(md(exc))
    st.stop()

metrics = st.columns(6)
for column, (label, key) in zip(metrics, [("Connected", "connected"), ("Healthy", "healthy"),
                                          ("Expiring", "expiring"), ("Failing", "refresh_failing"),
                                          ("Needs re-auth", "needs_reauth"), ("Revoked", "revoked")], strict=True):
    column.metric(label, view.totals[key])
if view.totals["expired"]:
    st.caption(f"{view.totals['expired']} expired access tokens are refreshed on next use or by the worker.")

with st.expander("Charts", expanded=False):
    left, right = st.columns(2)
    left.markdown("**Access tokens expiring in the next hour**")
    left.bar_chart(view.expiry_histogram, x="expires in", y="tokens", sort=False)
    right.markdown("**Portals by status**")
    right.bar_chart(view.status_counts, x="status", y="portals", sort=False)

if filters.active:
    st.caption(f"{len(view.connections)} of {view.totals['connected'] + view.totals['revoked']} portals match.")
if not view.connections:
    st.info("No portals match." if filters.active else
            "No portals connected yet. Use **New install** to connect a HubSpot account.")
    st.stop()

connections_table.show_table(view.connections)

selected = [h for h in connections_table.selected_hub_ids() if view.connection(h) is not None]
actions = st.columns([2, 2, 6])
actions[0].download_button("Export CSV", data=lambda: connections_csv(view.connections),
                           file_name="connections.csv", mime="text/csv", key="conn_export", on_click="ignore")
if actions[1].button(f"Refresh selected ({len(selected)})", key="conn_bulk_refresh", disabled=not selected):
    connection_details.refresh_selected(ctx, actor, selected)

if not selected:
    st.caption("Select rows in the table to see details and actions.")
    st.stop()
shown = selected[0]
if len(selected) > 1:
    shown = st.selectbox("Details for", selected, key="conn_details_for")
conn = view.connection(shown)
if conn is not None:
    st.divider()
    connection_details.details(ctx, actor, conn)
