"""Who is using the dashboard: Streamlit's OpenID Connect sign-in (``st.login`` / ``st.user``) and roles.

The rule itself is pure (``dashboard.security.access.decide``); this module only reads Streamlit's state and draws
the sign-in and "no access" screens. Without an ``[auth]`` section in ``.streamlit/secrets.toml`` the
dashboard works only while the server listens on loopback, and then the local user is admin.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard.actors import Actor
from dashboard.admin import sign_outs
from dashboard.security import access
from dashboard.ui import link_callback
from dashboard.ui.context import get_context
from dashboard.ui.text import md

SIGNED_OUT = "You signed out of this dashboard after this sign-in began; please sign in again."
NO_SIGN_IN_BANNER = ("No sign-in: anyone who can reach this loopback port is admin; configure sign-in before "
                     "listening elsewhere (docs/sign-in.md).")


def sign_in_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's OIDC settings)."""
    try:
        return "auth" in st.secrets
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return False


def _decision() -> access.AccessDecision:
    configured = sign_in_configured()
    logged_in = bool(st.user.is_logged_in) if configured else False
    email = st.user.get("email") if logged_in else None
    headers = st.context.headers
    decision = access.decide(sign_in_configured=configured, logged_in=logged_in,
                             email=str(email) if email else None,
                             server_address=st.get_option("server.address"), settings=get_context().settings,
                             request_host=headers.get("host"), request_origin=headers.get("origin"),
                             server_port=int(st.get_option("server.port")))
    if decision.actor is not None and logged_in and not sign_outs.sign_in_current(
            get_context(), email=decision.actor.name, issued_at=st.user.get("iat")):
        return access.AccessDecision(None, SIGNED_OUT)  # a cookie from before a sign-out (a replayed copy)
    return decision


def navigation_hidden() -> bool:
    """True when this browser may not use the dashboard (sign-in screen, no access, a customer's callback
    result): the router then shows no menu, so not even the page names are shown."""
    return _decision().actor is None


def current_actor() -> Actor:
    """The person behind this browser session, or a sign-in / "no access" screen and ``st.stop()``."""
    decision = _decision()
    if decision.actor is not None:
        return decision.actor
    if sign_in_configured() and link_callback.callback_in_url():
        link_callback.result_page()  # a customer back from HubSpot: the state is the authority; stops
    st.title("HubSpot OAuth dashboard")
    if sign_in_configured() and (not st.user.is_logged_in or decision.reason == SIGNED_OUT):
        st.info(md(decision.reason))
        st.button("Sign in", key="auth_login", type="primary", on_click=st.login)
    else:
        st.error(md(decision.reason), icon="🔒")  # it quotes the signed-in email
        if sign_in_configured():
            st.button("Sign out", key="auth_logout_denied", on_click=st.logout)
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def no_sign_in_banner() -> str | None:
    """The warning every page carries while the dashboard runs without sign-in (shown in the environment
    bar, dashboard.ui.layout)."""
    return None if sign_in_configured() else NO_SIGN_IN_BANNER


def _sign_out(actor: Actor) -> None:
    """Start a new session epoch (every copy of this sign-in is refused from now on), then sign out here."""
    sign_outs.sign_out(get_context(), actor=actor)
    st.logout()


def sign_out_button(actor: Actor | None) -> None:
    """None: signed in without a role here; signing out still works, with no session epoch to end."""
    if sign_in_configured() and st.user.is_logged_in:
        if actor is None:
            st.button("Sign out", key="auth_logout", on_click=st.logout)
        else:
            st.button("Sign out", key="auth_logout", on_click=_sign_out, args=(actor,))
