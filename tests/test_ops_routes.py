"""Who may read /metrics: loopback clients, or anyone with the metrics key (never a wrong or empty one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request

from dashboard.context import AppContext, build_context
from dashboard.web.ops_routes import _metrics_allowed
from dashboard.web.runtime import set_shared_context

METRICS_KEY = "m3tr1cs-key-for-tests-0b9d"


def request(host: str, authorization: str | None = None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    return Request({"type": "http", "method": "GET", "path": "/metrics", "headers": headers,
                    "client": (host, 50000), "query_string": b""})


@pytest.fixture
def served(settings_factory: Any) -> Iterator[AppContext]:
    ctx = build_context(settings_factory(dashboard_metrics_key=METRICS_KEY), start_sandbox=False)
    set_shared_context(ctx)
    try:
        yield ctx
    finally:
        set_shared_context(None)
        ctx.close()


@pytest.mark.parametrize(("host", "authorization", "allowed"), [
    ("127.0.0.1", None, True), ("::1", None, True), ("10.1.2.3", None, False), ("203.0.113.9", None, False),
    ("10.1.2.3", f"Bearer {METRICS_KEY}", True), ("10.1.2.3", "Bearer wrong", False), ("10.1.2.3", "Bearer ", False),
    ("10.1.2.3", f"Basic {METRICS_KEY}", False), ("127.0.0.1", "Bearer wrong", False),
])
def test_metrics_access(served: AppContext, host: str, authorization: str | None, allowed: bool) -> None:
    assert _metrics_allowed(request(host, authorization)) is allowed


def test_metrics_count_the_spill_journal_and_every_stored_status(ctx) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from dashboard.ops import metrics
    from dashboard.refresh import journal

    def samples() -> dict[str, float]:
        found: dict[str, float] = {}
        for family in text_string_to_metric_families(metrics.render(ctx).decode()):
            for s in family.samples:
                found[s.name + (f"{{{s.labels['status']}}}" if "status" in s.labels else "")] = s.value
        return found

    before = samples()
    assert before["dashboard_spill_journal_entries"] == 0 and before["dashboard_spill_journal_bytes"] == 0
    assert before["dashboard_portals{uninstalled}"] == 0
    assert journal.append(ctx, journal.Entry(7, 1, {"status": "active"}, "worker:test", "refresh"))
    after = samples()
    assert after["dashboard_spill_journal_entries"] == 1 and after["dashboard_spill_journal_bytes"] > 0


def scrape(ctx: AppContext) -> list[Any]:
    from prometheus_client.parser import text_string_to_metric_families

    from dashboard.ops import metrics

    return list(text_string_to_metric_families(metrics.render(ctx).decode()))


def test_earliest_expiry_is_always_present_and_inf_when_nothing_expires(ctx: AppContext) -> None:
    import math

    from tests.utils.lifecycle import install_portal

    [family] = [f for f in scrape(ctx) if f.name == "dashboard_earliest_expiry_seconds"]
    assert [s.value for s in family.samples] == [math.inf]
    assert ctx.sandbox_url is not None
    install_portal(ctx, ctx.sandbox_url)
    [family] = [f for f in scrape(ctx) if f.name == "dashboard_earliest_expiry_seconds"]
    assert 0 < family.samples[0].value <= 1800


def test_a_restarted_worker_continues_its_series_and_no_label_names_a_hub(ctx: AppContext) -> None:
    import socket

    from dashboard.ops import counters
    from dashboard.refresh import worker
    from tests.utils.lifecycle import install_portal

    assert ctx.sandbox_url is not None
    hubs = {str(install_portal(ctx, ctx.sandbox_url).hub_id) for _ in range(2)}
    for _start in range(3):  # the same kind of process, restarted: a new worker id each time
        worker.RefreshWorker(ctx, kind="embedded", interval=5).run_pass()
    worker.RefreshWorker(ctx, kind="cli", interval=5).run_pass()
    counters.record_api_request("token", 200)
    families = scrape(ctx)
    [last] = [f for f in families if f.name == "dashboard_worker_last_sweep_timestamp_seconds"]
    host = socket.gethostname()[:255]
    assert sorted(s.labels["worker"] for s in last.samples) == [f"cli:{host}", f"embedded:{host}"]
    for family in families:
        for sample in family.samples:
            assert not any("hub" in name for name in sample.labels), sample
            assert not hubs & set(sample.labels.values()), sample
            assert all(len(value) <= 300 for value in sample.labels.values())
