"""The Streamlit side: the only package that imports Streamlit. Pages (``pages/``) stay thin and call these.

Each module draws one part of a page (a table, a dialog, a banner) from what a service returns; none opens a
database session, an HTTP client or a cipher (tests/test_architecture.py checks the pages). May import every
package below it, ``web`` included (the server's runtime state); nothing in ``dashboard`` imports it.
"""
