"""Settings → Token API keys: an admin creates a key (shown once), sees it listed, revokes it; the sweep line."""

from __future__ import annotations

import threading
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from dashboard.context import AppContext
from dashboard.refresh import worker
from tests.utils.pages import frame_with, messages, page_text

OpenPage = Callable[..., AppTest]
SETTINGS = "pages/settings.py"


def test_admin_creates_a_key_shown_once_then_revokes_it(open_page: OpenPage, ctx: AppContext) -> None:
    at = open_page(SETTINGS)
    assert "No token API keys yet." in page_text(at)
    at.text_input(key="apikey_name").input("billing sync")
    at.selectbox(key="apikey_role").select("operator")
    at.text_input(key="apikey_hubs").input("101 202")
    at.button[[b.label for b in at.button].index("Create API key")].click().run()
    assert not at.exception, at.exception
    [code] = at.code
    key = code.value
    assert key.startswith("hsd_") and any("not shown again" in m for m in messages(at, "success"))
    keys = frame_with(at, "prefix", "name", "role", "state")
    assert keys[["name", "role", "state", "portals"]].to_dict("records") == [
        {"name": "billing sync", "role": "operator", "state": "active", "portals": "101 202"}]
    prefix = keys["prefix"][0]
    assert prefix in key and key not in str(keys.to_dict())

    at.run()  # any later run: the key is gone for good
    assert not at.code and key not in page_text(at) and key not in str(at.session_state)

    at.selectbox(key="apikey_revoke_prefix").select(prefix).run()
    at.button(key="apikey_revoke").click().run()
    assert not at.exception, at.exception
    assert frame_with(at, "prefix", "state")["state"].tolist() == ["revoked"]
    assert any(f"API key {prefix} revoked" in m for m in messages(at, "success"))


def test_a_bad_name_is_one_line(open_page: OpenPage) -> None:
    at = open_page(SETTINGS)
    at.text_input(key="apikey_name").input("<script>")
    at.button[[b.label for b in at.button].index("Create API key")].click().run()
    assert not at.exception and any("API key name" in m for m in messages(at, "error"))


def test_settings_and_connections_show_the_last_sweep(open_page: OpenPage, ctx: AppContext) -> None:
    for page, level in ((SETTINGS, "warning"), (None, "error")):  # Connections: in the Needs-attention strip
        at = open_page(page) if page else open_page()
        assert any("No refresh worker has swept yet" in m for m in messages(at, level))
    w = worker.RefreshWorker(ctx, kind="cli", interval=30)
    w.run(threading.Event(), once=True)
    for page in (SETTINGS, None):
        at = open_page(page) if page else open_page()
        assert f"by {w.worker_id}" in page_text(at) and "Last sweep" in page_text(at)
        assert not any("swept" in m for m in messages(at, "warning") + messages(at, "error"))
