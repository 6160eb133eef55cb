"""Pending installs on a page: HubSpot granted tokens, the install could not be finished, retry it here.

Shown only when there are some (New install and Connections pages). Never shows a token.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.installs import flow as install
from dashboard.installs import pending as pending_installs
from dashboard.installs.flow import InstallResult
from dashboard.ui.feedback import Level, run_and_flash
from dashboard.ui.text import shown


def _finished(result: InstallResult) -> tuple[Level, str]:
    return "success", (f"Install finished: hub {result.hub_id} ({result.hub_domain or 'unknown domain'}) is "
                       f"connected with {len(result.granted_scopes)} scopes.")


def show_pending_installs(ctx: AppContext, actor: Actor) -> None:
    """A warning per pending install with a "Finish install" button (operators and admins)."""
    try:
        pending = pending_installs.list_pending(ctx, actor=actor)
    except DashboardError as exc:
        st.error(str(exc))
        return
    if not pending:
        return
    with st.container(key="pending_installs"):
        st.warning(f"{len(pending)} install(s) were granted by HubSpot but not finished: the tokens are kept "
                   "encrypted. Finish them once HubSpot answers again.")
        for p in pending:
            left, right = st.columns([4, 1])
            when = f"{p.created_at:%Y-%m-%d %H:%M} UTC" if p.created_at else "—"
            left.text(f"#{p.id} · started by {shown(p.actor)} at {when} · {p.attempts} attempt(s) · "
                      f"{shown(p.last_error)}")
            if right.button("Finish install", key=f"pending_finish_{p.id}", disabled=not actor.can("install")):
                run_and_flash(f"Finishing pending install #{p.id}…",
                              partial(install.finish_pending_install, ctx, actor=actor, pending_id=p.id),
                              _finished)
