"""Entry script: the ASGI app (pages + HTTP routes + process lifespan) and, per browser session, the router.

``streamlit run streamlit_app.py`` finds ``app`` below and serves it with uvicorn: the module is imported
once per server process (``__name__ != "__main__"``) to build the ``st.App``; each browser session then
runs this same file as ``__main__``, which only routes to a page.
"""

from __future__ import annotations

import streamlit as st

if __name__ == "__main__":
    from dashboard.ui.auth import current_actor, needs_result_page
    from dashboard.ui.context import get_context
    from dashboard.ui.layout import page_chrome

    st.set_page_config(page_title="HubSpot OAuth dashboard", page_icon="🔑", layout="wide")
    navigation = st.navigation([
        st.Page("pages/connections.py", title="Connections", icon="🔌", default=True),
        st.Page("pages/install.py", title="New install", icon="➕", url_path="install"),
        st.Page("pages/scopes.py", title="Scope builder", icon="🧩", url_path="scopes"),
        st.Page("pages/activity.py", title="Activity", icon="📜", url_path="activity"),
        st.Page("pages/settings.py", title="Settings", icon="⚙️", url_path="settings"),
    ], position="hidden" if needs_result_page() else "sidebar")  # a customer back from HubSpot sees no menu
    with page_chrome(get_context(), current_actor()):
        navigation.run()
else:
    from dashboard.ui.auth import sign_in_configured
    from dashboard.web.app import build_middleware, build_routes, lifespan

    app = st.App(__file__, lifespan=lifespan, routes=build_routes(), middleware=build_middleware(
        sign_in_configured=sign_in_configured,
        trusted_origins=lambda: list(st.get_option("server.corsAllowedOrigins"))))
