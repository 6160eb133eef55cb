"""Entry script: the ASGI app (pages + HTTP routes + process lifespan) and, per browser session, the router.

``streamlit run streamlit_app.py`` finds ``app`` below and serves it with uvicorn: the module is imported
once per server process (``__name__ != "__main__"``) to build the ``st.App``; each browser session then
runs this same file as ``__main__``, which only routes to a page.
"""

from __future__ import annotations

import streamlit as st

if __name__ == "__main__":
    from dashboard.ui.auth import current_actor, navigation_hidden
    from dashboard.ui.context import get_context
    from dashboard.ui.layout import page_chrome

    st.set_page_config(page_title="HubSpot OAuth dashboard", page_icon="🔑", layout="wide")
    navigation = st.navigation([
        st.Page("pages/connections.py", title="Connections", icon="🔌", default=True),
        st.Page("pages/install.py", title="New install", icon="➕", url_path="install"),
        st.Page("pages/scopes.py", title="Scope builder", icon="🧩", url_path="scopes"),
        st.Page("pages/activity.py", title="Activity", icon="📜", url_path="activity"),
        st.Page("pages/settings.py", title="Settings", icon="⚙️", url_path="settings"),
    ], position="hidden" if navigation_hidden() else "sidebar")  # no menu before access is granted
    with page_chrome(get_context(), current_actor()):
        navigation.run()
else:
    from streamlit.runtime.pages_manager import PagesManager

    from dashboard.ui.auth import sign_in_configured
    from dashboard.web.app import build_lifespan, build_middleware, build_routes

    # This app routes with st.navigation. Until a session first runs this file, Streamlit would serve a page
    # URL (a customer's first request to /install after a restart) in its legacy pages/ mode, whose menu lists
    # every page to a browser that is not signed in. Streamlit sets this same flag when st.navigation runs.
    PagesManager.uses_pages_directory = False

    # The port Streamlit listens on (--server.port, STREAMLIT_SERVER_PORT, config.toml), read when it starts.
    app = st.App(__file__, lifespan=build_lifespan(lambda: int(st.get_option("server.port"))),
                 routes=build_routes(), middleware=build_middleware(
        sign_in_configured=sign_in_configured,
        trusted_origins=lambda: list(st.get_option("server.corsAllowedOrigins")),
        allowed_hosts=lambda: list(st.get_option("server.allowedHosts"))))
