"""Helpers for AppTest-driven UI tests: reading the Connections table, selecting rows, leak checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from dashboard.ui.connections_table import TABLE_KEY
from dashboard.ui.context import reset_context
from dashboard.ui.text import plain

APP = "../../streamlit_app.py"  # AppTest.from_file resolves it relative to tests/ui/
TIMEOUT = 30
ACME, GLOBEX, INITECH = 1000001, 1000002, 1000003  # the sandbox's default accounts: free, pro, enterprise
GATED_OPTIONAL = "cms.functions.read"  # Content Hub Enterprise: only initech can grant it


@contextmanager
def loopback_app() -> Iterator[None]:
    """As under `streamlit run` with the repo's .streamlit/config.toml: listening on loopback only; the app's
    cached context is rebuilt before and after (it reads the environment the test set)."""
    previous = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    reset_context()
    try:
        yield
    finally:
        reset_context()
        st_config.set_option("server.address", previous)


def table(at: AppTest) -> pd.DataFrame:
    """What the Connections table shows (the current page)."""
    return next(d for d in at.dataframe if d.key == TABLE_KEY).value


def frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table on the page that has these columns (only selectable tables carry their key)."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def select_hubs(at: AppTest, *hub_ids: int) -> AppTest:
    """Select these portals' rows, as a click in the table would, and rerun."""
    hubs = list(table(at)["hub_id"])
    at.session_state[TABLE_KEY] = {"selection": {"rows": [hubs.index(h) for h in hub_ids], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    return at


def page_text(at: AppTest) -> str:
    """Everything the page sends to the browser (element protos, table contents), for leak checks."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    parts.extend(d.value.to_csv() for d in at.dataframe)
    return "\n".join(parts)


def messages(at: AppTest, kind: str) -> list[str]:
    """The texts of every ``st.success`` / ``st.error`` / ... on the page, as a reader sees them (foreign text
    is backslash-escaped Markdown, see ``dashboard.ui.text``; confirmations shown as toasts count as their
    level: dashboard.ui.feedback.TOAST_ICONS)."""
    from dashboard.ui.feedback import TOAST_ICONS

    found = [plain(str(e.value)) for e in getattr(at, kind)]
    if kind in TOAST_ICONS:
        found += [plain(str(t.value)) for t in at.toast if t.proto.icon == TOAST_ICONS[kind]]
    return found


