"""Sendable links on the pages: create one for the customer, list them, revoke an open one.

The URL is shown once, right after it is created (only its hash is stored). Lists show foreign-free
data in dataframe cells.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.installs import links as install_links
from dashboard.ui.feedback import run_action, run_and_flash
from dashboard.ui.text import md

LINK_KEY = "send_link_created"


def show_link(url: str, expires: str, *, what: str = "account") -> None:
    st.success(f"Link created. Send it to the {what}'s HubSpot admin: it works once, until {expires} UTC, "
               "and needs no dashboard account.")
    st.code(url, language=None, wrap_lines=True)


def create_button(ctx: AppContext, actor: Actor, *, scopes: list[str], optional: list[str],
                  account_id: int | None) -> None:
    """"Create a link to send": a link for the customer (default 7 days), built from the install form."""
    days = ctx.settings.dashboard_link_ttl_days
    if st.button("Create a link to send", key="send_link_create",
                 help=f"A link the customer's HubSpot admin can open within {days:g} days, once"):
        link = run_action("Creating a link to send…", lambda: install_links.create_link(
            ctx, actor=actor, scopes=scopes, optional_scopes=optional, account_id=account_id))
        if link is not None:
            st.session_state[LINK_KEY] = (link.url, f"{link.expires_at:%Y-%m-%d %H:%M}")
    created = st.session_state.get(LINK_KEY)
    if created:
        show_link(*created)


def links_panel(ctx: AppContext, actor: Actor) -> None:
    """Every sendable link (newest first) and a revoke control for the open ones."""
    links = run_action("Loading links…", lambda: install_links.list_links(ctx, actor=actor))
    if not links:
        st.caption("No links sent yet.")
        return
    st.container(key="send_links_table").dataframe(pd.DataFrame({
        "link": [link.link_id for link in links], "purpose": [link.purpose for link in links],
        "status": [link.status for link in links], "created by": [link.created_by for link in links],
        "created": [link.created_at for link in links], "expires": [link.expires_at for link in links],
        "account": [str(link.account_id or "any") for link in links], "scopes": [link.scopes for link in links],
        "used": [link.used_at for link in links],
        "hub": [str(link.used_hub_id) if link.used_hub_id else "" for link in links]}), hide_index=True)
    open_ids = [link.link_id for link in links if link.status == "open"]
    if open_ids:
        left, right = st.columns([3, 1])
        chosen = left.selectbox("Open link", open_ids, key="send_link_revoke_id", label_visibility="collapsed",
                                format_func=lambda i: f"link {i}")
        if right.button("Revoke link", key="send_link_revoke") and chosen is not None:
            run_and_flash(f"Revoking link {chosen}…",
                          lambda: install_links.revoke_link(ctx, actor=actor, link_id=int(chosen)),
                          lambda _: ("success", f"Link {chosen} revoked: opening it now shows that it was "
                                                "withdrawn."))
    st.caption(md("Opening a link makes a fresh 10-minute install state; used, revoked or expired links "
                  "reach HubSpot 0 times."))
