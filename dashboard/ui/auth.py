"""Who is using the dashboard: Streamlit's OpenID Connect sign-in (``st.login`` / ``st.user``) and roles.

The rule itself is pure (``dashboard.access.decide``); this module only reads Streamlit's state and draws
the sign-in and "no access" screens. Without an ``[auth]`` section in ``.streamlit/secrets.toml`` the
dashboard works only while the server listens on loopback, and then the local user is admin.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard import access
from dashboard.actors import Actor
from dashboard.ui.context import get_context

NO_SIGN_IN_BANNER = ("No sign-in: anyone who can reach this loopback port is admin; configure sign-in before "
                     "listening elsewhere (README: Sign-in and roles).")


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
    return access.decide(sign_in_configured=configured, logged_in=logged_in,
                         email=str(email) if email else None,
                         server_address=st.get_option("server.address"), settings=get_context().settings)


def current_actor() -> Actor:
    """The person behind this browser session, or a sign-in / "no access" screen and ``st.stop()``."""
    decision = _decision()
    if decision.actor is not None:
        return decision.actor
    st.title("HubSpot OAuth dashboard")
    if sign_in_configured() and not st.user.is_logged_in:
        st.info(decision.reason)
        st.button("Sign in", key="auth_login", type="primary", on_click=st.login)
    else:
        st.error(decision.reason, icon="🔒")
        if sign_in_configured():
            st.button("Sign out", key="auth_logout_denied", on_click=st.logout)
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def no_sign_in_banner() -> str | None:
    """The warning every page carries while the dashboard runs without sign-in (shown in the environment
    bar, dashboard.ui.layout)."""
    return None if sign_in_configured() else NO_SIGN_IN_BANNER


def sign_out_button() -> None:
    if sign_in_configured() and st.user.is_logged_in:
        st.button("Sign out", key="auth_logout", on_click=st.logout)
