"""The Connections table: filters, a page slice, the live "Expires in" countdown and row selection.

The countdown is a fragment rerun every second. It receives the visible page slice (already in memory)
as its argument, recomputes ``expires_in`` from ``expires_at`` and redraws only itself: no database query
and no full rerun per tick. Selecting rows (also inside the fragment) triggers one full rerun so that
the details and bulk actions below the table follow the selection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dashboard.connections import STATUS_LABELS, STATUSES, Connection
from dashboard.models import utcnow
from dashboard.scopes import load_catalog
from dashboard.ui.connections_view import SORTS, Filters, connections_frame, with_countdown

TABLE_KEY = "conn_table"
SELECTED_KEY = "conn_selected_hubs"
DRAWN_ROWS_KEY = "conn_drawn_rows"
PAGE_KEY = "conn_page"
PAGE_SIZE = 100

COLUMNS = ("hub_id", "hub_domain", "status_label", "expires_in", "last_refresh_at", "last_refresh_result",
           "granted_scopes", "missing_optional_scopes", "installed_by", "installed_at")
COLUMN_CONFIG = {
    "hub_id": st.column_config.NumberColumn("Hub id", format="%d"),
    "hub_domain": st.column_config.TextColumn("Domain"),
    "status_label": st.column_config.TextColumn("Status"),
    "expires_in": st.column_config.TextColumn("Expires in", help="Live countdown to the access token's expiry"),
    "last_refresh_at": st.column_config.DatetimeColumn("Last refresh", format="YYYY-MM-DD HH:mm:ss"),
    "last_refresh_result": st.column_config.TextColumn("Result"),
    "granted_scopes": st.column_config.ListColumn("Granted scopes"),
    "missing_optional_scopes": st.column_config.ListColumn("Missing optional scopes"),
    "installed_by": st.column_config.TextColumn("Installed by"),
    "installed_at": st.column_config.DatetimeColumn("Installed at", format="YYYY-MM-DD HH:mm"),
}


def clear_selection() -> None:
    """Forget the selected rows (their positions mean other portals once filters or the page change)."""
    st.session_state[TABLE_KEY] = {"selection": {"rows": [], "columns": []}}
    st.session_state[SELECTED_KEY] = []
    st.session_state[DRAWN_ROWS_KEY] = []


def filter_bar() -> tuple[Filters, str]:
    """Search, status and scope filters and the sort order; changing any of them clears the selection."""
    search_col, status_col, scope_col, sort_col = st.columns([3, 3, 3, 2])
    search = search_col.text_input("Search", key="conn_search", placeholder="hub id, domain or user email",
                                   on_change=clear_selection)
    statuses = status_col.multiselect("Status", STATUSES, key="conn_statuses", on_change=clear_selection,
                                      format_func=lambda s: STATUS_LABELS[s])
    scope = scope_col.selectbox("Has scope", load_catalog().names(), index=None, key="conn_scope",
                                placeholder="any scope", accept_new_options=True, on_change=clear_selection)
    sort = sort_col.selectbox("Sort by", list(SORTS), key="conn_sort", on_change=clear_selection)
    return Filters(search=search, statuses=tuple(statuses), scope=scope), sort


def page_slice(conns: Sequence[Connection]) -> pd.DataFrame:
    """The chosen page of ``conns`` as a frame (10,000 portals are drawn one page at a time)."""
    pages = max(1, math.ceil(len(conns) / PAGE_SIZE))
    if pages == 1:
        st.session_state.pop(PAGE_KEY, None)
        return connections_frame(conns)
    if st.session_state.get(PAGE_KEY, 1) > pages:
        st.session_state[PAGE_KEY] = pages
    page = st.number_input(f"Page (of {pages}, {PAGE_SIZE} rows each)", min_value=1, max_value=pages,
                           step=1, key=PAGE_KEY, on_change=clear_selection)
    start = (int(page) - 1) * PAGE_SIZE
    return connections_frame(conns[start:start + PAGE_SIZE])


def follow_selection(page: pd.DataFrame) -> None:
    """Keep the selected *portals* selected when their rows move (sorting by expiry after a refresh).

    Only when the table's selection is still the one drawn last; a newer one is the user's and wins.
    """
    state = st.session_state.get(TABLE_KEY)
    current = list(state["selection"]["rows"]) if state is not None else []
    if current != st.session_state.get(DRAWN_ROWS_KEY, []):
        return
    hubs: list[int] = st.session_state.get(SELECTED_KEY, [])
    where = {int(h): i for i, h in enumerate(page["hub_id"])}
    positions = [where[h] for h in hubs if h in where]
    if positions != current:
        st.session_state[TABLE_KEY] = {"selection": {"rows": positions, "columns": []}}


def show_table(conns: Sequence[Connection]) -> None:
    """The chosen page of ``conns`` in the live table, with the selection following its portals."""
    page = page_slice(conns)
    follow_selection(page)
    live_table(page)


@st.fragment(run_every=1)
def live_table(page: pd.DataFrame) -> None:
    """The table with a countdown recomputed every second from ``page`` (held by the fragment)."""
    shown = with_countdown(page, utcnow())
    for column in ("granted_scopes", "missing_optional_scopes"):
        shown[column] = shown[column].map(list)
    event = st.dataframe(shown, key=TABLE_KEY, on_select="rerun", selection_mode="multi-row",
                         hide_index=True, column_order=COLUMNS, column_config=COLUMN_CONFIG,
                         width="stretch")
    rows = [r for r in event.selection.rows if 0 <= r < len(page)]
    st.session_state[DRAWN_ROWS_KEY] = list(event.selection.rows)
    hubs = [int(h) for h in page["hub_id"].iloc[rows]]
    if hubs != st.session_state.get(SELECTED_KEY, []):
        st.session_state[SELECTED_KEY] = hubs
        st.rerun()  # the details and bulk actions live outside this fragment


def selected_hub_ids() -> list[int]:
    return list(st.session_state.get(SELECTED_KEY, []))
