"""How actions report back: a spinner while they run, a clear message when they end, never a traceback.

An action that changes data sets a *flash* message and reruns the page, so the tables redraw with the new
state and the message is shown once in the next run (a toast for a confirmation, inline for a problem).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

import streamlit as st

from dashboard.errors import DashboardError
from dashboard.ui.text import md

T = TypeVar("T")
Level = Literal["success", "info", "warning", "error"]
FLASH_KEY = "_flash_messages"


def flash(level: Level, text: str) -> None:
    """Queue a message for the next run (see :func:`show_flash`)."""
    st.session_state.setdefault(FLASH_KEY, []).append((level, text))


def show(level: Level, text: str) -> None:
    """Messages may quote foreign text (a domain, HubSpot's error description): shown as text, not Markdown."""
    {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}[level](md(text))


TOAST_ICONS = {"success": "✅", "info": "ℹ️"}


def show_flash() -> None:
    """Show (once) the messages queued by the previous run's actions: confirmations as toasts (in view
    wherever the pressed button was, not at the top of a long page), problems inline at the top."""
    for level, text in st.session_state.pop(FLASH_KEY, []):
        if level in TOAST_ICONS:
            st.toast(md(text), icon=TOAST_ICONS[level], duration="long")  # may quote foreign text
        else:
            show(level, text)


def run_action(label: str, action: Callable[[], T]) -> T | None:
    """Run ``action`` under a spinner; a :class:`DashboardError` becomes an ``st.error`` and ``None``."""
    with st.spinner(label):
        try:
            return action()
        except DashboardError as exc:
            st.error(md(exc))
            return None


def run_and_flash(label: str, action: Callable[[], T], describe: Callable[[T], tuple[Level, str]]) -> None:
    """Run ``action``, queue its message (or the error) and rerun the page so it shows the new state."""
    with st.spinner(label):
        try:
            result = action()
        except DashboardError as exc:
            flash("error", str(exc))
        else:
            flash(*describe(result))
    st.rerun()
