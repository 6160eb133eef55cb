"""What every page shows around its content: the environment bar, the shared sidebar, queued messages.

The router (``streamlit_app.py``) draws them before running the page. Streamlit also has a legacy mode in
which it runs a file under ``pages/`` on its own: the first run of a server process that was asked for a
page URL directly (say the OAuth redirect to ``/install`` right after a restart), and every AppTest run
after ``switch_page``. :func:`start_page` therefore draws them too, unless the router already did in
this run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.ui.app_switcher import app_switcher, selected_app
from dashboard.ui.auth import current_actor, no_sign_in_banner, sign_out_button
from dashboard.ui.context import get_context
from dashboard.ui.feedback import show_flash
from dashboard.ui.health_banner import health_banner
from dashboard.ui.text import code

SANDBOX_BANNER = ("Sandbox mode: the built-in sandbox HubSpot{where}, not HubSpot (set HUBSPOT_CLIENT_ID and "
                  "HUBSPOT_CLIENT_SECRET for real accounts).")
# Streamlit's default top padding (6rem) and title margins cost a support person the table's first rows.
# Captions and help text are the text colour at 60 % (#85919d on white, 3.21:1): HubSpot's slate #516f90
# instead (5.22:1, WCAG AA's 4.5:1).
CAPTION_COLOUR = "#516f90"
SLIM_CSS = ("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem;padding-bottom:2rem}"
            "h1{padding-top:0.25rem!important;padding-bottom:0.25rem!important}"
            "[data-testid='stCaptionContainer'],[data-testid='stWidgetLabel'] small"
            f"{{color:{CAPTION_COLOUR}!important;opacity:1!important}}"
            # The needs-attention counts are links that filter the table: drawn as links (6.2:1 on white).
            ".st-key-conn_attention button p{color:#b42318;text-decoration:underline}"
            "</style>")
# Per script run (the router and its page run in one thread); not session state, which st.stop() locks.
_drawn: ContextVar[bool] = ContextVar("page_chrome_drawn", default=False)


def sandbox_banner(ctx: AppContext) -> str | None:
    """The sandbox part of the environment bar (None against the real HubSpot)."""
    if not ctx.sandbox_mode:
        return None
    where = f" at {ctx.sandbox_url}" if ctx.sandbox_url else ""
    return SANDBOX_BANNER.format(where=where)


def environment_bar(ctx: AppContext) -> None:
    """One slim warning for everything about where this dashboard runs (sandbox, no sign-in): one element
    at the top instead of a banner each, so the table stays in the first screen."""
    parts = [p for p in (sandbox_banner(ctx), no_sign_in_banner()) if p]
    if parts:
        st.warning(" · ".join(parts), icon="🧪" if ctx.sandbox_mode else "🔓")


def sidebar(ctx: AppContext, actor: Actor) -> None:
    with st.sidebar:
        st.caption(f"Signed in as {code(actor.name)} ({actor.role})")
        sign_out_button(actor)
        app_switcher(ctx)
        st.caption("Mode: " + ("sandbox" if ctx.sandbox_mode else f"HubSpot app {ctx.app.client_id[:4]}…"))
        st.caption(f"Database: {ctx.settings.database_backend} · locks: {ctx.leases.name}")


def _draw(ctx: AppContext, actor: Actor) -> None:
    st.html(SLIM_CSS)
    sidebar(ctx, actor)
    environment_bar(ctx)
    health_banner(ctx)
    show_flash()


@contextmanager
def page_chrome(ctx: AppContext, actor: Actor) -> Iterator[None]:
    """The router's frame around ``navigation.run()``: drawn once, and marked so the page skips it."""
    _draw(selected_app(ctx), actor)
    token = _drawn.set(True)
    try:
        yield
    finally:  # also on st.stop() / st.rerun() inside the page
        _drawn.reset(token)


def start_page(title: str) -> tuple[AppContext, Actor]:
    """Every page's first line: the context, the acting user, the frame (if the router did not) and the title."""
    ctx = selected_app(get_context())  # the app the sidebar's switcher picked (the only one, usually)
    actor = current_actor()
    if not _drawn.get():
        _draw(ctx, actor)
    st.title(title)
    return ctx, actor
