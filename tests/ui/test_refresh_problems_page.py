"""Issue #10 on the Connections page: a locked database and an unreadable row, each one clear line."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import repository
from dashboard.context import AppContext
from dashboard.installs.flow import InstallResult
from dashboard.settings import Settings
from tests.utils.pages import GLOBEX, messages, page_text, select_hubs

OpenPage = Callable[..., AppTest]


def test_refresh_now_while_the_database_is_locked_shows_one_line(
    open_page: OpenPage, settings: Settings, seeded: dict[int, InstallResult], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DASHBOARD_SQLITE_BUSY_TIMEOUT_MS", "300")
    at = select_hubs(open_page(), GLOBEX)
    db_file = Path(settings.dashboard_database_url.removeprefix("sqlite:///"))
    holder = sqlite3.connect(db_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout
    try:
        at.button(key="conn_refresh").click().run()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not at.exception
    [error] = [m for m in messages(at, "error") if "database" in m]
    assert "locked" in error and "\n" not in error
    text = page_text(at)
    assert "Traceback" not in text and "UPDATE portal" not in text and "SELECT" not in text


def test_a_row_on_a_key_that_is_not_configured_says_which_key_and_what_to_do(
    open_page: OpenPage, ctx: AppContext, seeded: dict[int, InstallResult],
) -> None:
    with ctx.session() as session:  # as if written by a deploy whose key "k-old" was since removed
        repository.update_portal(session=session, hub_id=GLOBEX, values={"key_id": "k-old"})
        session.commit()
    at = select_hubs(open_page(), GLOBEX)
    at.button(key="conn_refresh").click().run()
    assert not at.exception
    [error] = [m for m in messages(at, "error") if m.startswith(f"Hub {GLOBEX}")]
    assert "'k-old'" in error and "DASHBOARD_ENCRYPTION_KEYS" in error
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=GLOBEX)
    assert portal is not None and portal.last_refresh_result == "key_missing"
    at.run()
    warnings = messages(at, "warning")
    assert any("'k-old'" in w and f"hub {GLOBEX}" in w and "add that key back" in w for w in warnings), warnings
