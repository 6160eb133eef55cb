"""Settings → Lifecycle webhooks: an admin adds an endpoint (secret shown once), installs a portal and the
receiver verifies ``connection.created``; a failed delivery is shown with its answer and redelivered."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.context import AppContext
from dashboard.settings import Settings
from dashboard.webhooks import events
from dashboard.webhooks.delivery import deliver_due
from tests.utils.lifecycle import install_portal
from tests.utils.pages import frame_with, messages, page_text
from tests.utils.webhook_receiver import Answer, Receiver, webhook_receiver

OpenPage = Callable[..., AppTest]
SETTINGS = "pages/settings.py"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(dashboard_webhook_allow_private=True)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("DASHBOARD_WEBHOOK_ALLOW_PRIVATE", "true")
    with webhook_receiver() as r:
        yield r


def test_new_user_adds_an_endpoint_installs_and_receives_a_verified_event(
        open_page: OpenPage, ctx: AppContext, sandbox: Any, receiver: Receiver) -> None:
    at = open_page(SETTINGS)
    assert "No webhook endpoints yet." in page_text(at)
    at.text_input(key="webhook_url").input(receiver.url + "?key=receivers-own-token")
    at.multiselect(key="webhook_events").select(events.CREATED)
    at.text_input(key="webhook_description").input("billing backend")
    at.button[[b.label for b in at.button].index("Add endpoint")].click().run()
    assert not at.exception, at.exception
    [code] = at.code
    secret = code.value
    assert secret.startswith("whsec_") and any("not shown again" in m for m in messages(at, "success"))
    table = frame_with(at, "id", "url", "events")
    assert table["events"].tolist() == [events.CREATED]
    assert "receivers-own-token" not in page_text(at) and "receivers-own-token" not in str(table.to_dict())
    at.run()
    assert not at.code and secret not in page_text(at) and secret not in str(at.session_state)

    hub = install_portal(ctx, sandbox.url).hub_id
    receiver.script.append(lambda r: Answer(503, b"<b>busy</b> try later"))
    deliver_due(ctx)
    at.run()
    deliveries = frame_with(at, "delivery", "status", "attempts")
    assert deliveries[["event", "hub id", "status", "attempts", "last HTTP status"]].to_dict("records") == [
        {"event": events.CREATED, "hub id": hub, "status": "pending", "attempts": 1, "last HTTP status": 503}]
    assert deliveries["answer (1 KB)"].tolist() == ["<b>busy</b> try later"]
    at.selectbox(key="webhook_redeliver_id").select(int(deliveries["delivery"][0])).run()
    at.button(key="webhook_redeliver").click().run()
    assert not at.exception, at.exception
    deliver_due(ctx)
    [first, second] = receiver.verified(secret)
    assert first == second and second["type"] == events.CREATED and second["data"]["hub_id"] == hub
    at.run()
    assert frame_with(at, "delivery", "status")["status"].tolist() == ["succeeded"]


def test_a_refused_url_is_one_line_and_rotate_remove_work(open_page: OpenPage, monkeypatch: pytest.MonkeyPatch,
                                                          receiver: Receiver) -> None:
    monkeypatch.setenv("DASHBOARD_WEBHOOK_ALLOW_PRIVATE", "false")
    at = open_page(SETTINGS)
    at.text_input(key="webhook_url").input("https://169.254.169.254/latest")
    at.button[[b.label for b in at.button].index("Add endpoint")].click().run()
    assert not at.exception and any("metadata address" in m for m in messages(at, "error"))
    monkeypatch.setenv("DASHBOARD_WEBHOOK_ALLOW_PRIVATE", "true")
    from dashboard.ui.context import reset_context

    reset_context()
    at = open_page(SETTINGS)
    at.text_input(key="webhook_url").input(receiver.url)
    at.button[[b.label for b in at.button].index("Add endpoint")].click().run()
    at.run()
    at.selectbox(key="webhook_endpoint_id").select(1).run()
    at.button(key="webhook_rotate").click().run()
    assert not at.exception and at.code and at.code[0].value.startswith("whsec_")
    at.run()
    at.selectbox(key="webhook_endpoint_id").select(1).run()
    at.button(key="webhook_remove").click().run()
    assert not at.exception and "No webhook endpoints yet." in page_text(at)
