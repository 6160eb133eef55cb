"""The portal page's API console and usage, through the Connections page (AppTest) against the sandbox."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from dashboard.context import AppContext
from dashboard.installs.flow import InstallResult
from dashboard.sandbox import SandboxServer
from tests.utils.lifecycle import sandbox_tokens
from tests.utils.pages import ACME, page_text, select_hubs

OpenPage = Callable[..., AppTest]


def test_console_sends_a_get_shows_the_answer_and_counts_it(
        open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer, seeded: dict[int, InstallResult]) -> None:
    at = select_hubs(open_page(), ACME)
    assert "No API calls through the proxy" in page_text(at)
    assert [o for o in at.selectbox(key="api_console_method").options] == ["GET", "HEAD", "POST", "PUT", "PATCH",
                                                                           "DELETE"]  # an admin
    at.text_input(key="api_console_path").set_value("/crm/v3/objects/contacts?limit=1").run()
    at.button(key="api_console_send").click().run()
    assert "HTTP 200" in [t.value for t in at.text]
    at.text_input(key="api_console_find").set_value("email").run()
    assert any("@example.com" in t.value for t in at.text)
    at.text_input(key="api_console_path").set_value("/crm/%2e%2e/oauth/v1/token").run()
    at.button(key="api_console_send").click().run()
    assert any("refused" in e.value for e in at.error)
    at.selectbox(key="api_console_method").set_value("DELETE").run()
    assert at.button(key="api_console_send").disabled  # until the hub id is typed
    text = page_text(at)
    assert "1 calls in 24 h" in text or "calls in 24 h" in text
    assert not [t["token"] for t in sandbox_tokens(sandbox.url) if t["token"] in text]
