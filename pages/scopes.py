"""Scope builder (url path ``/scopes``): browse the catalog, build and lint a scope set, preview the URL."""

from __future__ import annotations

import streamlit as st

from dashboard.errors import DashboardError
from dashboard.hubspot.authorize import parse_account_id
from dashboard.installs import scope_sets
from dashboard.scopes import catalog as scopes
from dashboard.scopes import lint as scope_lint
from dashboard.ui import scope_builder as sb
from dashboard.ui.feedback import flash, run_and_flash
from dashboard.ui.layout import start_page
from dashboard.ui.text import md

ctx, actor = start_page("Scope builder")
catalog = scopes.load_catalog()

with st.expander(f"HubSpot scope catalog ({len(catalog)} scopes)", expanded=False):
    search_col, group_col = st.columns([2, 3])
    search = search_col.text_input("Search the catalog", key="sb_search", placeholder="e.g. contacts write")
    groups = group_col.multiselect("Groups", list(catalog.groups()), key="sb_groups")
    st.container(key="sb_catalog").dataframe(sb.catalog_frame(catalog, search, groups), hide_index=True,
                                            width="stretch", column_config=sb.catalog_columns(catalog))

try:
    sets = scope_sets.list_scope_sets(ctx, actor=actor)
except DashboardError as exc:
    st.error(md(exc))
    sets = {}


def load_set() -> None:
    name = st.session_state.get("sb_saved")
    if name in sets:
        sb.load_into_pickers(sets[name])
        flash("success", f"Loaded scope set {name}.")


st.header("Scope set")
sb.load_shared_link()
chosen = sb.pickers(catalog, default=scope_sets.app_default_scopes(ctx), app=ctx.app_id)  # the selected app's scope set
try:
    scope_set = scopes.ScopeSet.from_lists(**chosen)
    app_scopes = scope_sets.app_scope_settings(ctx)
except DashboardError as exc:
    st.error(md(exc))
    st.stop()

st.markdown("**Lint**" + (" (checked against the app's scope settings)" if app_scopes else ""))
sb.show_findings(scope_lint.lint(scope_set, catalog=catalog, app_scopes=app_scopes))

st.header("Authorize URL preview")
account_text = st.text_input("Account id for the account-specific link (optional)", key="sb_account")
try:
    account_id = parse_account_id(account_text)
    sb.show_url(sb.preview_url(ctx, scope_set))
    if account_id is not None:
        st.markdown(f"**Only for account {account_id}:**")
        st.code(sb.preview_url(ctx, scope_set, account_id), language=None, wrap_lines=True)
except DashboardError as exc:
    st.error(md(exc))
st.caption(f"The real install link carries a fresh single-use state instead of {sb.STATE_PLACEHOLDER}.")
sb.share_and_json(scope_set)

st.header("Saved scope sets")
save_col, load_col = st.columns(2)
name = save_col.text_input("Name", key="sb_name", placeholder="e.g. CRM read-only")
if save_col.button("Save current set", key="sb_save", disabled=not name.strip()):
    run_and_flash(f"Saving {name}…", lambda: scope_sets.save_scope_set(ctx, name, scope_set, actor=actor),
                  lambda _: ("success", f"Saved scope set {' '.join(name.split())}."))
picked = load_col.selectbox("Saved set", list(sets), index=None, key="sb_saved", placeholder="choose a set")
load_col.button("Load into the pickers", key="sb_load", disabled=picked is None, on_click=load_set)
if load_col.button("Delete", key="sb_delete", disabled=picked is None) and picked is not None:
    doomed: str = picked
    run_and_flash(f"Deleting {doomed}…", lambda: scope_sets.delete_scope_set(ctx, doomed, actor=actor),
                  lambda _: ("success", f"Deleted scope set {doomed}."))

if len(sets) >= 2:
    a_col, b_col = st.columns(2)
    first = a_col.selectbox("Compare", list(sets), index=0, key="sb_cmp_a")
    second = b_col.selectbox("with", list(sets), index=1, key="sb_cmp_b")
    sb.show_diff(first, second, scope_lint.diff(sets[first], sets[second]))
