"""The one cached :class:`AppContext` per Streamlit server process.

Settings come from environment variables and ``.streamlit/secrets.toml`` (see :mod:`dashboard.settings`).
A configuration problem is shown as one clear line and stops the page; it is never cached, so fixing the
setting and reloading the page is enough. Pages treat the context as read-only.
"""

from __future__ import annotations

import streamlit as st

from dashboard.context import AppContext, build_context
from dashboard.errors import DashboardError
from dashboard.installs.redirect_target import follow_server
from dashboard.settings import load_settings
from dashboard.ui.text import md
from dashboard.web.runtime import shared_context


def _release(ctx: AppContext) -> None:
    if ctx is not shared_context():  # the server's own context is closed by its lifespan
        ctx.close()


@st.cache_resource(show_spinner="Connecting to the database…", on_release=_release)
def _cached_context() -> AppContext:
    # Under the server, reuse the context its lifespan built (one engine, one sandbox, one worker);
    # elsewhere (AppTest) build one.
    return shared_context() or build_context(follow_server(load_settings(), port=server_port()))


def server_port() -> int:
    """The port this Streamlit server listens on (--server.port, STREAMLIT_SERVER_PORT, config.toml)."""
    return int(st.get_option("server.port"))


def get_context() -> AppContext:
    """The shared context; on a configuration (or database) problem: an error message and ``st.stop()``."""
    try:
        return _cached_context()
    except DashboardError as exc:
        st.error(f"The dashboard cannot start: {md(exc)}")
        st.stop()


def reset_context() -> None:
    """Drop (and close) the cached context; the next page run builds a new one. For tests and settings."""
    _cached_context.clear()
