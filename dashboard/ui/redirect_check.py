"""The redirect URI check shown on Settings and New install: HubSpot's rules, and whether it reaches this server."""

from __future__ import annotations

import streamlit as st

from dashboard.context import AppContext
from dashboard.errors import RedirectUriError
from dashboard.installs.redirect_target import local_redirect_uri, redirect_mismatch
from dashboard.settings import check_redirect_uri
from dashboard.ui.context import server_port
from dashboard.ui.text import md


def redirect_problem(ctx: AppContext) -> str | None:
    """One line saying what is wrong with HUBSPOT_REDIRECT_URI and what to set, or None."""
    uri = ctx.app.redirect_uri
    try:
        check_redirect_uri(uri)
    except RedirectUriError as exc:
        return f"HUBSPOT_REDIRECT_URI: {exc}"
    return redirect_mismatch(uri, address=st.get_option("server.address"), port=server_port())


def redirect_check(ctx: AppContext, *, confirm: bool) -> None:
    """In red when installs would not come back here; with ``confirm``, a green line when they would."""
    problem = redirect_problem(ctx)
    if problem is not None:
        st.container(key="redirect_problem").error(md(problem), icon="🚫")
    elif confirm:
        followed = (" In sandbox mode it follows the port this dashboard listens on unless HUBSPOT_REDIRECT_URI "
                    "is set." if ctx.sandbox_mode and ctx.app.redirect_uri == local_redirect_uri(server_port()) else "")
        st.success("The redirect URI follows HubSpot's rules (https, or http on localhost; no IP address) and "
                   "reaches this dashboard. It must also be listed in the app's Auth settings." + followed)
