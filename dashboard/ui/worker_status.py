"""The refresh workers' status line: "last sweep N s ago by WORKER", or a warning when none swept on time."""

from __future__ import annotations

import streamlit as st

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.refresh.worker import sweep_status


def show_sweep_status(ctx: AppContext, actor: Actor) -> None:
    try:
        status = sweep_status(ctx, actor=actor)
    except DashboardError as exc:
        st.warning(f"Cannot read the refresh workers' status: {exc}", icon="⚠️")
        return
    # The message holds worker ids (host names): plain text, never Markdown.
    text = status.message.replace("`", "")
    if status.healthy:
        st.container(key="worker_status_ok").text(f"🔄 {text}")
    else:
        st.container(key="worker_status_late").warning(text, icon="⚠️")
