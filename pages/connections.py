"""Connections (home): needs attention, tiles, the live table, details and actions for the selected portals.

``/?hub=<hub_id>`` opens that portal's details; a pasted domain or ``https://domain`` in Search does too.
"""

from __future__ import annotations

import streamlit as st

from dashboard import connections, listing
from dashboard.errors import DashboardError, InputError
from dashboard.export import connections_csv_file
from dashboard.hub_ids import parse_hub_id
from dashboard.ui import connection_details, connections_table
from dashboard.ui.layout import start_page
from dashboard.ui.pending_installs_view import show_pending_installs
from dashboard.ui.text import md

ctx, actor = start_page("Connections")
show_pending_installs(ctx, actor)

filters, sort = connections_table.filter_bar()
hub_param = st.query_params.get("hub", "")
try:
    hub = parse_hub_id(hub_param, what="the hub id in the link (?hub=)") if hub_param.strip() else None
except InputError as exc:  # a bad link: say so, list the connections as without it
    st.warning(md(exc))
    hub = None
try:
    if hub is not None and hub not in connections_table.selected_hub_ids():
        connections_table.select_hub(hub)
    elif filters.search.strip() and not connections_table.selected_hub_ids():
        found = listing.find_hub(ctx, actor=actor, text=filters.search)
        if found is not None:
            connections_table.select_hub(found)
except DashboardError as exc:
    st.error(md(exc))
    st.stop()

connections_table.live_connections(ctx, actor, filters, sort)

selected = connections_table.selected_hub_ids()
actions = st.columns([2, 2, 6])
actions[0].download_button(
    "Export CSV", data=lambda: connections_csv_file(listing.iter_connections(ctx, actor=actor, filters=filters)),
    file_name="connections.csv", mime="text/csv", key="conn_export", on_click="ignore")
if actions[1].button(f"Refresh selected ({len(selected)})", key="conn_bulk_refresh", disabled=not selected):
    connection_details.refresh_selected(ctx, actor, selected)

if not selected:
    st.query_params.pop("hub", None)
    st.caption("Select rows in the table to see details and actions.")
    st.stop()
shown = selected[0]
if len(selected) > 1:
    shown = st.selectbox("Details for", selected, key="conn_details_for")
st.query_params["hub"] = str(shown)
try:
    conn = connections.get_connection(ctx, shown, actor=actor)
except DashboardError as exc:
    st.error(str(exc))
    st.stop()
st.divider()
connection_details.details(ctx, actor, conn)
