"""New install (url path ``/install``, the OAuth redirect target): create an install link, finish the callback."""

from __future__ import annotations

import contextlib

import streamlit as st

from dashboard.errors import DashboardError
from dashboard.hubspot.authorize import parse_account_id
from dashboard.installs import flow as install
from dashboard.installs import scope_sets
from dashboard.ui import install_flow, send_links
from dashboard.ui.layout import start_page
from dashboard.ui.pending_installs_view import show_pending_installs
from dashboard.ui.redirect_check import redirect_check
from dashboard.ui.text import md

ctx, actor = start_page("New install")

redirect_check(ctx, confirm=False)  # before anything else: a link made now would not come back here
install_flow.handle_callback(ctx, actor)
install_flow.show_result()
show_pending_installs(ctx, actor)

st.header("Create an install link")
try:
    sets = scope_sets.list_scope_sets(ctx, actor=actor)
except DashboardError as exc:
    st.error(md(exc))
    sets = {}
st.selectbox("Saved scope set", list(sets), index=None, key="install_set", placeholder="type scopes below instead",
             on_change=install_flow.apply_saved_set, args=(sets,),
             help="Build and save sets on the Scope builder page")
st.session_state.setdefault("install_scopes", "oauth")
scopes_text = st.text_area("Scopes (required)", key="install_scopes", height=80, on_change=install_flow.touch_form,
                           help="Sent in the scope parameter; separate with spaces or commas")
optional_text = st.text_area("Optional scopes", key="install_optional", height=80, on_change=install_flow.touch_form,
                             help="Sent in optional_scope; accounts without them can still install")
account_text = st.text_input("Account id (optional)", key="install_account", on_change=install_flow.touch_form,
                             help="Pin the install to one HubSpot account (hub id)")

try:
    blocked = install_flow.show_preview(install_flow.preview(ctx, actor, scopes_text, optional_text, account_text))
except DashboardError as exc:  # a malformed name or account id: said once, here, and no link
    st.error(str(exc))
    blocked = True

if st.button("Create install link", key="install_create", type="primary", disabled=blocked):
    with st.spinner("Creating a single-use install link…"):
        try:
            started = install.start_install(ctx, actor=actor, scopes=install_flow.split_scopes(scopes_text),
                                            optional_scopes=install_flow.split_scopes(optional_text),
                                            account_id=parse_account_id(account_text))
        except DashboardError as exc:
            st.error(md(exc))
        else:
            st.session_state[install_flow.LINK_KEY] = started.url
            st.success(f"Install link created. It works once and expires in "
                       f"{started.expires_in_seconds // 60} minutes.")

link = st.session_state.get(install_flow.LINK_KEY)
if link:
    st.link_button("Connect a HubSpot account", link, type="primary", key="install_connect")
    st.caption("This link works once, within 10 minutes. To send one to a customer, use "
               "'Create a link to send' below:")
    st.code(link, language=None, wrap_lines=True)
    if ctx.sandbox_mode:
        st.info("Sandbox mode: the link opens the sandbox's consent page, which sends you back here.")

st.header("Send a link to the customer")
with contextlib.suppress(DashboardError):  # a bad account id was reported above
    send_links.create_button(ctx, actor, scopes=install_flow.split_scopes(scopes_text),
                             optional=install_flow.split_scopes(optional_text),
                             account_id=parse_account_id(account_text))
send_links.links_panel(ctx, actor)
