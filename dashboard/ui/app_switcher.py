"""The sidebar's app switcher (several HubSpot apps in one dashboard) and the production app's safeguards.

With one app configured nothing is drawn and every page works as before. With several, the sidebar's
selectbox picks the app every page acts on (kept in the session and in the URL's ``?app=``, so a link names
its app); the production app wears a red badge, and a destructive action on it asks for the app's id typed
out, beside the action's own confirmation.
"""

from __future__ import annotations

import streamlit as st

from dashboard.context import AppContext

APP_KEY = "app"


def several(ctx: AppContext) -> bool:
    return ctx.apps is not None and len(ctx.apps) > 1


def selected_app(base: AppContext) -> AppContext:
    """The context of the app this session picked (the default app until it picks one, or for an unknown id)."""
    if not several(base) or base.apps is None:
        return base
    wanted = str(st.session_state.get(APP_KEY) or st.query_params.get(APP_KEY) or "")
    return base.for_app(wanted if wanted in base.apps else base.apps.default)


def _sync_url() -> None:
    st.query_params[APP_KEY] = st.session_state[APP_KEY]


def app_switcher(ctx: AppContext) -> None:
    """The selectbox (several apps only) and, on the production app, its badge. Inside ``st.sidebar``."""
    if not several(ctx) or ctx.apps is None:
        return
    apps = ctx.apps
    if st.session_state.get(APP_KEY) not in apps:
        st.session_state[APP_KEY] = ctx.app_id
    st.selectbox("App", apps.ids, key=APP_KEY, on_change=_sync_url,
                 format_func=lambda a: apps.get(a).label + (" · production" if apps.get(a).production else ""),
                 help="The HubSpot app every page acts on: the same account installed in two apps is two "
                      "connections")
    if ctx.production:
        st.badge("Production app", icon=":material/warning:", color="red")


def production_confirmed(ctx: AppContext, *, key: str) -> bool:
    """On the production app: a field asking for the app's id, True once it is typed. Elsewhere: True."""
    if not ctx.production:
        return True
    typed = st.text_input(f"This is the production app: type {ctx.app_id} to confirm", key=key)
    return typed.strip() == ctx.app_id
