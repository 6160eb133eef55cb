"""Secret-leak scan of every page: after install → refresh → failing refresh → revoke, no page shows a
token, the client secret or an encryption key (AppTest render, including table contents and errors)."""

from __future__ import annotations

from typing import Any

from dashboard.context import AppContext
from dashboard.installs.flow import InstallResult
from dashboard.refresh import service as refresh
from dashboard.sandbox import SANDBOX_CLIENT_SECRET, SandboxServer
from tests.utils.lifecycle import ADMIN, control, sandbox_tokens
from tests.utils.pages import ACME, GLOBEX, INITECH, page_text, select_hubs

PAGES = ["pages/install.py", "pages/scopes.py", "pages/activity.py", "pages/settings.py"]


def test_no_page_shows_a_secret(open_page: Any, ctx: AppContext, sandbox: SandboxServer, settings: Any,
                                seeded: dict[int, InstallResult]) -> None:
    refresh.refresh_portal(ctx, ACME, actor=ADMIN, force=True)
    control(sandbox.url, "faults", {"target": "token", "error_rate": 1.0, "error_status": 503})
    refresh.refresh_portal(ctx, GLOBEX, actor=ADMIN, force=True)  # a failing refresh, with its error text
    control(sandbox.url, "faults", {"target": "token"})
    texts: list[str] = []

    at = select_hubs(open_page(), ACME)
    for key in ("conn_meta", "conn_test", "conn_refresh"):
        at.button(key=key).click().run()
        texts.append(page_text(at))
    at = select_hubs(open_page(), GLOBEX)
    texts.append(page_text(at))
    at = select_hubs(open_page(), INITECH)
    at.button(key="conn_revoke").click().run()
    at.text_input(key="revoke_confirm").input(str(INITECH)).run()
    at.button(key="revoke_submit").click().run()
    texts.append(page_text(at))
    for page in PAGES:
        texts.append(page_text(open_page(page)))
    # A callback page with a bad code: the error shown must not echo what it was given.
    texts.append(page_text(open_page("pages/install.py", code="na1-not-a-real-code", state="forged")))

    key_entry = settings.dashboard_encryption_keys.get_secret_value()
    secrets = [t["token"] for t in sandbox_tokens(sandbox.url)]
    secrets += [SANDBOX_CLIENT_SECRET, key_entry, key_entry.split(":", 1)[1]]
    haystack = "\n".join(texts)
    assert len(secrets) > 6
    leaked = [s[:6] + "…" for s in secrets if s in haystack]
    assert not leaked, f"secrets shown on a page: {leaked}"
