"""Connections (home): needs attention, tiles, the live table, details and actions for the selected portals.

``/?hub=<hub_id>`` opens that portal's details; so does a search that finds one portal (hub id, pasted domain or
URL, a domain fragment, an email). Details are drawn above the table, where the user is looking.
"""

from __future__ import annotations

import streamlit as st

from dashboard.connections import listing
from dashboard.connections import service as connections
from dashboard.connections.export import connections_csv_file
from dashboard.errors import DashboardError, InputError
from dashboard.hubspot.hub_ids import parse_hub_id
from dashboard.ui import connection_details, connections_table
from dashboard.ui.downloads import download_button
from dashboard.ui.layout import start_page
from dashboard.ui.pending_installs_view import show_pending_installs
from dashboard.ui.text import md

OPENED_FOR_KEY = "conn_opened_for_search"

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
    elif filters.search.strip() and st.session_state.get(OPENED_FOR_KEY) != filters.search:
        st.session_state[OPENED_FOR_KEY] = filters.search  # once per search: "Close" keeps it closed
        found = listing.find_hub(ctx, actor=actor, text=filters.search)
        if found is not None:
            connections_table.select_hub(found)
except DashboardError as exc:
    st.error(md(exc))
    st.stop()

details_slot = st.container(key="conn_details")  # filled below, once the table has settled the selection
connections_table.live_connections(ctx, actor, filters, sort)

selected = connections_table.selected_hub_ids()
actions = st.columns([2, 2, 6])
download_button(
    actions[0], "Export CSV",
    make=lambda: connections_csv_file(listing.iter_connections(ctx, actor=actor, filters=filters)),
    file_name="connections.csv", mime="text/csv", key="conn_export")
if actions[1].button(f"Refresh selected ({len(selected)})", key="conn_bulk_refresh", disabled=not selected):
    connection_details.refresh_selected(ctx, actor, selected)

if not selected:
    st.query_params.pop("hub", None)
    st.caption("Select rows in the table to see details and actions.")
    st.stop()
with details_slot:
    shown = selected[0]
    pick, close = st.columns([4, 1], vertical_alignment="bottom")
    if len(selected) > 1:
        shown = pick.selectbox("Details for", selected, key="conn_details_for")
    close.button("Close details", key="conn_details_close", on_click=connections_table.clear_selection,
                 width="stretch")
    st.query_params["hub"] = str(shown)
    try:
        conn = connections.get_connection(ctx, shown, actor=actor)
    except DashboardError as exc:
        st.error(str(exc))
        st.stop()
    connection_details.details(ctx, actor, conn)
    st.divider()
