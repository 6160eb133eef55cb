"""Entry script (router only): page config, navigation over pages/, the shared sidebar and sandbox banner."""

from __future__ import annotations

import streamlit as st

from dashboard.ui.auth import current_actor
from dashboard.ui.context import get_context
from dashboard.ui.layout import page_chrome

st.set_page_config(page_title="HubSpot OAuth dashboard", page_icon="🔑", layout="wide")
navigation = st.navigation([
    st.Page("pages/connections.py", title="Connections", icon="🔌", default=True),
    st.Page("pages/install.py", title="New install", icon="➕", url_path="install"),
    st.Page("pages/scopes.py", title="Scope builder", icon="🧩", url_path="scopes"),
    st.Page("pages/activity.py", title="Activity", icon="📜", url_path="activity"),
    st.Page("pages/settings.py", title="Settings", icon="⚙️", url_path="settings"),
])
with page_chrome(get_context(), current_actor()):
    navigation.run()
