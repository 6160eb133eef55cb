"""Settings → Token API keys: admins create (the key is shown once), list and revoke service API keys."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.actors import Actor
from dashboard.admin import api_keys
from dashboard.context import AppContext
from dashboard.errors import DashboardError, InputError
from dashboard.models import utcnow
from dashboard.ui.feedback import run_and_flash

SHOW_ONCE = "_api_key_created"


def _hub_ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise InputError("hub ids are whole numbers separated by spaces") from None


def _create(ctx: AppContext, actor: Actor) -> None:
    with st.form("apikey_form", clear_on_submit=True):
        name = st.text_input("Name (the service that uses it)", key="apikey_name", max_chars=80)
        role = st.selectbox("Role", api_keys.KEY_ROLES, key="apikey_role",
                            help="reader gets tokens; operator may also force a refresh")
        several = ctx.apps is not None and len(ctx.apps) > 1
        hubs = st.text_input("Only these hub ids (empty: every portal)" + (f" of app {ctx.app_id}" if several else ""),
                             key="apikey_hubs")
        only_app = several and st.checkbox(f"Only app {ctx.app_id} (403 on other apps' portals)", key="apikey_app")
        days = st.number_input("Expires after days (0: never)", min_value=0, max_value=36_500, value=0,
                               key="apikey_days")
        if not st.form_submit_button("Create API key"):
            return
    try:
        created = api_keys.create_key(ctx, actor=actor, name=name, role=str(role), hub_ids=_hub_ids(hubs),
                                      expires_in=timedelta(days=int(days)) if days else None,
                                      app=ctx.app_id if only_app else None)
    except DashboardError as exc:
        st.error(str(exc))
        return
    st.session_state[SHOW_ONCE] = (created.info.prefix, created.key)
    st.rerun()


def api_keys_section(ctx: AppContext, actor: Actor) -> None:
    if not actor.can("settings"):
        st.caption("Only admins create and revoke token API keys.")
        return
    shown = st.session_state.pop(SHOW_ONCE, None)  # shown in this run only: a reload hides it for good
    if shown is not None:
        st.success(f"API key {shown[0]} created. Copy it now: it is not shown again.")
        st.code(shown[1], language=None)
    try:
        keys = api_keys.list_keys(ctx, actor=actor)
    except DashboardError as exc:
        st.error(str(exc))
        return
    now = utcnow()
    several = ctx.apps is not None and len(ctx.apps) > 1
    if keys:
        st.container(key="apikey_table").dataframe(pd.DataFrame({
            "prefix": [k.prefix for k in keys], "name": [k.name for k in keys], "role": [k.role for k in keys],
            "state": [k.state(now) for k in keys], "created by": [k.created_by for k in keys],
            "last used": [k.last_used_at for k in keys], "expires": [k.expires_at for k in keys],
            # With several apps a hub id names no portal alone: app:hub id.
            "portals": [" ".join(sorted(f"{a}:{h}" for a, h in k.portals) if several else map(str, k.hub_ids))
                        or "all" for k in keys],
            **({"app": [k.app or "all" for k in keys]} if several else {}),
        }), hide_index=True, width="stretch")
        active = [k.prefix for k in keys if k.state(now) == "active"]
        left, right = st.columns([3, 1])
        prefix = left.selectbox("Revoke key", active, key="apikey_revoke_prefix", index=None,
                                placeholder="choose a key prefix")
        if right.button("Revoke", key="apikey_revoke", disabled=prefix is None) and prefix is not None:
            run_and_flash(f"Revoking API key {prefix}…",
                          lambda: api_keys.revoke_key(ctx, actor=actor, prefix=prefix),
                          lambda _: ("success", f"API key {prefix} revoked."))
    else:
        st.caption("No token API keys yet.")
    _create(ctx, actor)
