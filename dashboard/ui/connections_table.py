"""The Connections table: filters (kept in the URL), tiles, the live table and row selection.

Tiles, statuses and the "Expires in" countdown come from one load at one instant (``view.now``). The live
part is a fragment that reloads every :data:`TICK_SECONDS`: one status aggregate over an index and one page
of rows from the database, whatever the number of portals, and only itself is redrawn. Selecting rows
triggers one full rerun so that the details below the table follow the selection.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import status
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.models import utcnow
from dashboard.refresh.worker import sweep_status
from dashboard.scopes.catalog import load_catalog
from dashboard.ui import portal_health
from dashboard.ui.connections_view import (
    SORTS,
    ConnectionsView,
    Filters,
    connections_frame,
    load_connections_view,
    with_countdown,
)
from dashboard.ui.text import md

TABLE_KEY = "conn_table"
SELECTED_KEY = "conn_selected_hubs"
DRAWN_ROWS_KEY = "conn_drawn_rows"
PAGE_KEY = "conn_page"
PAGE_SIZE = 100
CHARTS_KEY = "conn_charts"
RESET_KEY = "conn_reset_selection"  # set by an action that changed the selected portals (revoke, uninstall)
STATUSES_KEY = "conn_statuses"
TICK_SECONDS = 10  # a tick reloads one aggregate and one page: about 1 % of a core per open tab

COLUMNS = ("hub_id", "hub_domain", "status_label", "expires_in", "uptime_7d", "last_refresh_result",
           "last_refresh_at", "granted_scopes", "missing_optional_scopes", "installed_by", "installed_at")
COLUMN_CONFIG = {
    "hub_id": st.column_config.NumberColumn("Hub id", format="%d", pinned=True, width="small"),
    "hub_domain": st.column_config.TextColumn("Domain", pinned=True),
    "status_label": st.column_config.TextColumn("Status"),
    "expires_in": st.column_config.TextColumn(
        "Expires in", help=f"Time left on the access token, updated every {TICK_SECONDS} s; for portals whose "
        "token will not be used, what to do instead"),
    "uptime_7d": st.column_config.NumberColumn(
        "Uptime 7 d", format="percent", help="Share of the last 7 days this portal was healthy, from its "
        "state transitions (click the header to sort this page)"),
    "last_refresh_at": st.column_config.TextColumn("Last refresh (UTC)"),
    "last_refresh_result": st.column_config.TextColumn("Result"),
    "granted_scopes": st.column_config.ListColumn("Granted scopes"),
    "missing_optional_scopes": st.column_config.ListColumn("Missing optional scopes"),
    "installed_by": st.column_config.TextColumn("Installed by"),
    "installed_at": st.column_config.TextColumn("Installed at (UTC)"),
}
TILES = (("Connected", "connected"), ("Healthy", "healthy"), ("Expiring", "expiring"), ("Expired", "expired"),
         ("Failing", "refresh_failing"), ("Needs re-auth", "needs_reauth"), ("Revoked", "revoked"))


def clear_selection() -> None:
    """Forget the selected rows (their positions mean other portals once filters or the page change)."""
    st.session_state[TABLE_KEY] = {"selection": {"rows": [], "columns": []}}
    st.session_state[SELECTED_KEY] = []
    st.session_state[DRAWN_ROWS_KEY] = []
    st.session_state.pop(PAGE_KEY, None)
    st.session_state["conn_offset"] = 0
    st.query_params.pop("hub", None)  # else the next run would open /?hub=<id>'s details again


def reset_selection_later() -> None:
    """Ask the next full run to clear the selection (the table's state cannot change once it is drawn)."""
    st.session_state[RESET_KEY] = True


def status_codes_from_url() -> None:
    """``?conn_statuses=needs_reauth`` (the CLI's and API's codes) as well as the labels the widget writes."""
    raw = st.query_params.get_all(STATUSES_KEY)
    by_label = {status.label(s): s for s in status.STATUSES}
    if any(r in status.STATUSES and r not in by_label for r in raw):
        codes = [r if r in status.STATUSES else by_label[r] for r in raw if r in status.STATUSES or r in by_label]
        st.session_state[STATUSES_KEY] = list(dict.fromkeys(codes))


def show_status(code: str) -> None:
    """A needs-attention count was clicked: the table lists just those portals."""
    st.session_state[STATUSES_KEY] = [code]
    st.session_state["conn_search"] = ""
    clear_selection()


def filter_bar() -> tuple[Filters, str]:
    """Search, status and scope filters and the sort order, all kept in the URL (a ticket links to a view)."""
    if st.session_state.pop(RESET_KEY, False):
        clear_selection()
    status_codes_from_url()
    search_col, status_col, scope_col, sort_col = st.columns([3, 3, 3, 3])
    search = search_col.text_input("Search", key="conn_search", placeholder="hub id, domain, URL or email",
                                   on_change=clear_selection, bind="query-params")
    statuses = status_col.multiselect("Status", status.STATUSES, key=STATUSES_KEY, on_change=clear_selection,
                                      format_func=status.label, bind="query-params")
    scope = scope_col.selectbox("Has scope", load_catalog().names(), index=None, key="conn_scope",
                                placeholder="any scope", accept_new_options=True, on_change=clear_selection,
                                bind="query-params")
    sort = sort_col.selectbox("Sort by", list(SORTS), key="conn_sort", on_change=clear_selection,
                              format_func=SORTS.__getitem__, bind="query-params")
    return Filters(search=search or "", statuses=tuple(statuses), scope=scope), sort or "problems"


def attention_strip(ctx: AppContext, actor: Actor, view: ConnectionsView) -> str | None:
    """What needs someone now, one short line: problem statuses and a refresh worker that stopped sweeping.
    Each count is a link-styled button that filters the table to those portals.
    Returns the quiet "last sweep N s ago by WORKER" line when the workers are fine (the caller places it)."""
    counts = view.overview.counts
    problems = [(s, n) for s, n in counts.items() if n and status.is_problem(s)]
    notes: list[str] = []
    try:
        sweep = sweep_status(ctx, actor=actor, now=view.overview.now)
    except DashboardError as exc:
        sweep = None
        notes.append(f"cannot read the refresh workers' status ({exc})")
    if sweep is not None and not sweep.healthy:
        notes.append(sweep.message)
    if sweep is not None and sweep.starting:
        st.container(key="conn_worker_starting").info(md(sweep.message), icon="⏳")
    if problems or notes:  # status names and worker ids (host names) are data: shown as typed, never as Markdown
        strip = st.container(key="conn_attention", horizontal=True, vertical_alignment="center", gap="small")
        strip.markdown(":red[🚨 **Needs attention:**]")
        for code, n in problems:
            if strip.button(f"{n} {status.label(code).lower()}", key=f"conn_attention_{code}", type="tertiary",
                            on_click=show_status, args=(code,), help=f"List only the {status.label(code)} portals"):
                st.rerun()  # the filters live outside this fragment
        if notes:
            strip.error(md("; ".join(notes)))
    return sweep.message if sweep is not None and sweep.healthy and not sweep.starting else None


def tiles(view: ConnectionsView) -> None:
    totals = view.totals
    keys = list(TILES) + [(status.label(s), s) for s in status.STATUSES
                          if s not in dict(TILES).values() and totals.get(s)]
    for column, (label, key) in zip(st.columns(len(keys)), keys, strict=True):
        column.metric(label, totals.get(key, 0))


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


@st.fragment(run_every=TICK_SECONDS)
def live_connections(ctx: AppContext, actor: Actor, filters: Filters, sort: str) -> None:
    """Strip, tiles and table at one instant, reloaded each tick (one aggregate + one page)."""
    offset = int(st.session_state.get("conn_offset", 0))
    try:
        view = load_connections_view(ctx, actor=actor, filters=filters, now=utcnow(), sort=sort,
                                     limit=PAGE_SIZE, offset=offset)
    except DashboardError as exc:
        st.error(str(exc))
        return
    last_sweep = attention_strip(ctx, actor, view)
    tiles(view)
    total = view.page.total if filters.active else view.overview.total
    if not view.page.rows:
        st.info("No portals match." if filters.active else
                "No portals connected yet. Use **New install** to connect a HubSpot account.")
        if last_sweep:
            st.container(key="conn_status_line").text(f"🔄 {last_sweep}")
        return
    pages = max(1, math.ceil(total / PAGE_SIZE))
    noun = "portal" if view.overview.total == 1 else "portals"
    caption = (f"{total} of {view.overview.total} {noun} match{'es' if total == 1 else ''}." if filters.active
               else f"{total} {'portal' if total == 1 else 'portals'}.")
    pager, note, charts = st.columns([1, 3, 1], vertical_alignment="bottom")
    if int(st.session_state.get(PAGE_KEY, 1)) > pages:  # fewer rows since the page was chosen
        st.session_state[PAGE_KEY] = pages
        _page_changed()
    if pages > 1:
        pager.number_input(f"Page of {pages}", min_value=1, max_value=pages, step=1, key=PAGE_KEY,
                           on_change=_page_changed)
    sweep_note = f" 🔄 {md(last_sweep)}" if last_sweep else ""  # worker ids are host names: escaped
    note.container(key="conn_status_line").caption(
        caption + f" Status as of {view.now:%H:%M:%S} UTC, updated every {TICK_SECONDS} s.{sweep_note}")
    if charts.toggle("Charts", key=CHARTS_KEY, help="Tokens expiring in the next hour and portals by status"):
        left, right = st.columns(2)
        left.caption("Access tokens expiring in the next hour")
        left.bar_chart(view.expiry_histogram, x="expires in", y="tokens", sort=False, height=180)
        right.caption("Portals by status")
        right.bar_chart(view.status_counts, x="status", y="portals", sort=False, height=180)
    frame = with_countdown(connections_frame(view.page.rows), view.now)
    frame["uptime_7d"] = portal_health.page_uptime(ctx, actor, [int(h) for h in frame["hub_id"]], view.now)
    follow_selection(frame)
    event = st.dataframe(frame, key=TABLE_KEY, on_select="rerun", selection_mode="multi-row", hide_index=True,
                         column_order=COLUMNS, column_config=COLUMN_CONFIG, width="stretch",
                         height=min(420, 38 + 35 * len(frame)))
    rows = [r for r in event.selection.rows if 0 <= r < len(frame)]
    st.session_state[DRAWN_ROWS_KEY] = list(event.selection.rows)
    # Portals selected but not on this page (opened by /?hub=<id>, or on another page) stay selected: only
    # the rows drawn here can be (de)selected here.
    drawn = {int(h) for h in frame["hub_id"]}
    previous: list[int] = st.session_state.get(SELECTED_KEY, [])
    hubs = [h for h in previous if h not in drawn] + [int(h) for h in frame["hub_id"].iloc[rows]]
    if hubs != previous:
        st.session_state[SELECTED_KEY] = hubs
        st.rerun()  # the details and bulk actions live outside this fragment


def _page_changed() -> None:
    st.session_state["conn_offset"] = (int(st.session_state.get(PAGE_KEY, 1)) - 1) * PAGE_SIZE
    st.session_state[TABLE_KEY] = {"selection": {"rows": [], "columns": []}}
    st.session_state[SELECTED_KEY] = []
    st.session_state[DRAWN_ROWS_KEY] = []


def selected_hub_ids() -> list[int]:
    return list(st.session_state.get(SELECTED_KEY, []))


def select_hub(hub_id: int) -> None:
    """Open one portal's details (``/?hub=<id>``, a pasted domain)."""
    st.session_state[SELECTED_KEY] = [hub_id]
