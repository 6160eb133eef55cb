"""The Activity page: the audit log with its filters, and refreshes over time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from streamlit.testing.v1 import AppTest

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.installs.flow import InstallResult
from dashboard.models import utcnow
from dashboard.refresh import service as refresh
from dashboard.sandbox import SandboxServer
from tests.utils.lifecycle import ADMIN, sandbox_post
from tests.utils.pages import ACME, GLOBEX, INITECH, frame_with, messages

OpenPage = Callable[..., AppTest]
ACTIVITY = "pages/activity.py"
OPERATOR = Actor("operator@example.com", "operator")


def audit(at: AppTest) -> list[dict[str, object]]:
    return list(frame_with(at, "at", "actor", "hub_id", "action", "outcome", "detail").to_dict("records"))


def test_filters_by_portal_action_outcome_and_actor(open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer,
                                                    seeded: dict[int, InstallResult]) -> None:
    refresh.refresh_portal(ctx, GLOBEX, actor=OPERATOR, force=True)
    sandbox_post(sandbox, "/_sandbox/uninstall", {"hub_id": ACME})
    refresh.refresh_portal(ctx, ACME, actor=OPERATOR, force=True)  # fails: invalid_grant
    at = open_page(ACTIVITY)
    rows = audit(at)
    assert {r["action"] for r in rows} >= {"install.start", "install", "refresh"}

    at.text_input(key="act_hub").input(str(GLOBEX)).run()
    assert {r["hub_id"] for r in audit(at)} == {GLOBEX}
    at.text_input(key="act_hub").input("").run()
    at.selectbox(key="act_action").select("refresh").run()
    assert {(r["hub_id"], r["outcome"]) for r in audit(at)} == {(GLOBEX, "success"), (ACME, "failure")}
    at.selectbox(key="act_outcome").select("failure").run()
    assert [r["hub_id"] for r in audit(at)] == [ACME]
    at.selectbox(key="act_outcome").set_value(None).run()
    at.selectbox(key="act_action").set_value(None).run()
    at.text_input(key="act_actor").input(OPERATOR.name).run()
    assert {r["actor"] for r in audit(at)} == {OPERATOR.name} and len(audit(at)) == 2
    at.text_input(key="act_hub").input("abc").run()
    assert any("positive whole number" in m for m in messages(at, "error"))
    assert not at.exception


def test_time_range_and_refresh_chart(open_page: OpenPage, ctx: AppContext,
                                      seeded: dict[int, InstallResult]) -> None:
    for hub in (ACME, GLOBEX, INITECH):
        refresh.refresh_portal(ctx, hub, force=True, actor=ADMIN)
    at = open_page(ACTIVITY)
    assert at.selectbox(key="act_range").value == "Last 24 hours"
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # the refresh chart is drawn
    at.selectbox(key="act_range").select("Custom dates").run()
    past = (utcnow() - timedelta(days=30)).date()
    at.date_input(key="act_dates").set_value((past, past + timedelta(days=1))).run()
    assert not at.exception
    assert any("No audit events match" in m for m in messages(at, "info"))
    assert any("No refreshes match these filters" in c.value for c in at.caption)
    at.selectbox(key="act_range").select("Last hour").run()
    assert len([r for r in audit(at) if r["action"] == "refresh"]) == 3


def test_empty_log(open_page: OpenPage) -> None:
    at = open_page(ACTIVITY)
    at.selectbox(key="act_action").select("revoke").run()
    assert any("No audit events match" in m for m in messages(at, "info"))


def test_refresh_buckets_use_24_hour_labels_and_follow_the_outcome_filter() -> None:
    from datetime import UTC, datetime, timedelta

    from dashboard.models import AuditEvent
    from dashboard.ui.activity_view import refresh_buckets

    at = datetime(2026, 3, 1, 15, 7, tzinfo=UTC)
    events = [AuditEvent(at=at, actor="w", action="refresh", outcome="success", detail=""),
              AuditEvent(at=at + timedelta(minutes=1), actor="w", action="refresh", outcome="failure", detail="")]
    both = refresh_buckets(events, timedelta(days=1))
    assert list(both["time"]) == ["15:05"] and list(both["success"]) == [1] and list(both["failure"]) == [1]
    failures = refresh_buckets(events, timedelta(days=1), "failure")
    assert list(failures.columns) == ["time", "failure"]
    assert list(refresh_buckets(events, timedelta(days=7))["time"]) == ["03-01 15:00"]


def test_filters_come_from_the_url_the_log_names_domains_and_exports_bytes(
        open_page: OpenPage, ctx: AppContext, seeded: dict[int, InstallResult]) -> None:
    """A shared link (?act_hub=…&act_action=…) opens the same view; one event says "1 event"; the log names
    each portal's domain; Export CSV holds exactly the filtered events, as bytes a browser can download."""
    refresh.refresh_portal(ctx, GLOBEX, actor=OPERATOR, force=True)
    at = open_page(ACTIVITY, act_hub=GLOBEX, act_action="refresh", act_range="Last hour")
    assert at.text_input(key="act_hub").value == str(GLOBEX)
    assert at.selectbox(key="act_action").value == "refresh"
    assert at.header[0].value == "Audit log · 1 event"
    [row] = frame_with(at, "hub_id", "hub_domain", "action")[["hub_id", "hub_domain", "action"]].to_dict("records")
    assert row == {"hub_id": GLOBEX, "hub_domain": "globex.hubspot.com", "action": "refresh"}
    assert [d.proto.label for d in at.get("download_button")] == ["Export CSV"]  # downloaded in tests/e2e
    assert at.header[1].value == "Refreshes over time"  # the log first, then the chart


def test_audit_csv_is_bytes_with_the_domain_and_no_formula(ctx: AppContext) -> None:
    from dashboard.connections.export import audit_csv
    from dashboard.models import AuditEvent

    events = [AuditEvent(at=utcnow(), actor="=cmd|' /C calc'!A0", hub_id=7, action="refresh", outcome="success",
                         detail="ok")]
    data = audit_csv(events, {7: "wayne.hubspot.com"})
    assert isinstance(data, bytes)
    lines = data.decode().splitlines()
    assert lines[0] == "at,actor,hub_id,hub_domain,action,outcome,detail"
    assert ",'=cmd|' /C calc'!A0,7,wayne.hubspot.com,refresh,success,ok" in lines[1]
