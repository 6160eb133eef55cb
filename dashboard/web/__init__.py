"""The dashboard's HTTP side, served by the same server process as the pages (Streamlit's ``st.App``).

``app.py`` holds the lifespan (one per server process, never one per browser session) and the list of
routes mounted beside the UI; each feature's routes live in a module of their own here. ``api/`` is the
``/api/v1`` FastAPI app (pydantic models, generated OpenAPI, one error shape); other ``/api/v1`` features are
``APIRouter``s given to ``api.build_api``. No Streamlit import: ``streamlit_app.py`` builds the ``st.App``
from these parts.

An entry point: may import the token API (``tokens``), the proxy, ``ops`` (readiness, metrics), installs
(``/connect``), admin (API keys) and everything below; only ``ui`` imports it (the server's runtime state).
"""
