"""Delivering webhooks against receivers that fail, on SQLite and PostgreSQL: the retry schedule, then failed and
redelivered; slow, huge, redirecting, refusing and TLS-failing receivers recorded per attempt and never lost;
secret rotation (two signatures); a worker killed with SIGKILL mid-delivery; the workers' first attempt."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from dashboard.context import AppContext, build_context
from dashboard.refresh.worker import RefreshWorker
from dashboard.webhook_models import WebhookAttempt
from dashboard.webhooks import endpoints, events, outbox
from dashboard.webhooks.delivery import deliver_due
from tests.utils.cli import cli_command, cli_env
from tests.utils.lifecycle import ADMIN, FAST_RETRY, install_portal
from tests.utils.webhook_receiver import Answer, Receiver, webhook_receiver


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def make_ctx(settings_factory: Any, sandbox: Any) -> Iterator[Any]:
    made: list[AppContext] = []

    def make(**overrides: Any) -> AppContext:
        ctx = build_context(settings_factory(dashboard_webhook_allow_private=True, **overrides),
                            sandbox_url=sandbox.url, retry=FAST_RETRY)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def _event(ctx: AppContext, hub_id: int = 7, reason: str = "x") -> None:
    with ctx.session() as s:
        outbox.enqueue(s, event_type=events.RECOVERED, data={
            "app": ctx.app_id, "hub_id": hub_id, "hub_domain": None, "status": "active", "reason": reason,
            "scopes": []})
        s.commit()


def _attempts(ctx: AppContext) -> list[WebhookAttempt]:
    with ctx.session() as s:
        return list(s.execute(select(WebhookAttempt).order_by(WebhookAttempt.id)).scalars())  # type: ignore[arg-type]


def _until(ctx: AppContext, status: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deliver_due(ctx)
        rows = endpoints.list_deliveries(ctx, actor=ADMIN)
        if rows and rows[0].status == status:
            return rows[0]
        time.sleep(0.05)
    raise AssertionError(f"the delivery did not become {status}: {endpoints.list_deliveries(ctx, actor=ADMIN)}")


def test_retry_schedule_then_failed_then_redelivered(make_ctx: Any, receiver: Receiver) -> None:
    ctx = make_ctx(dashboard_webhook_retry_schedule="0.3,0.6")
    created = endpoints.add_endpoint(ctx, actor=ADMIN, url=receiver.url)
    _event(ctx)
    receiver.script.extend([lambda r: Answer(500, b"nope " * 400)] * 3)
    first = deliver_due(ctx)
    assert (first.retrying, first.succeeded, first.failed) == (1, 0, 0)
    row = endpoints.list_deliveries(ctx, actor=ADMIN)[0]
    assert row.status == "pending" and row.attempts == 1 and row.last_status_code == 500
    assert row.next_attempt_at is not None and row.last_attempt_at is not None
    assert row.next_attempt_at - row.last_attempt_at == timedelta(seconds=0.3)  # the schedule's first wait
    assert row.last_response is not None and len(row.last_response) <= 1024
    assert deliver_due(ctx).attempts == 0  # not before its time
    failed = _until(ctx, "failed")
    assert failed.attempts == 3 and failed.last_error == "answered HTTP 500"
    got = receiver.received
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # stable across retries
    assert [a.status_code for a in _attempts(ctx)] == [500, 500, 500]
    endpoints.redeliver(ctx, actor=ADMIN, delivery_id=failed.id)
    done = _until(ctx, "succeeded")
    assert done.attempts == 1 and done.last_status_code == 200
    assert len(receiver.verified(created.secret)) == 4


@pytest.mark.parametrize("case", ["huge", "redirect", "slow", "refused", "tls"])
def test_bad_receivers_are_recorded_per_attempt_and_never_lost(make_ctx: Any, receiver: Receiver, case: str) -> None:
    ctx = make_ctx(dashboard_webhook_timeout_seconds=0.5)
    url = receiver.url
    if case == "huge":
        receiver.script.append(lambda r: Answer(200, b"x" * 5_000_000))
    elif case == "redirect":
        receiver.script.append(lambda r: Answer(302, b"", headers={"Location": receiver.url + "/elsewhere"}))
    elif case == "slow":
        receiver.script.append(lambda r: Answer(200, b"late", delay=3.0))
    elif case == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/hooks"
    elif case == "tls":
        url = receiver.url.replace("http://", "https://")
    endpoints.add_endpoint(ctx, actor=ADMIN, url=url)
    _event(ctx)
    started = time.monotonic()
    result = deliver_due(ctx)
    assert time.monotonic() - started < 5  # bounded by the timeout and the 1 KB read, never the receiver
    row = endpoints.list_deliveries(ctx, actor=ADMIN)[0]
    attempt = _attempts(ctx)[-1]
    if case == "huge":
        assert result.succeeded == 1 and row.status == "succeeded" and len(row.last_response or "") == 1024
    else:
        assert result.retrying == 1 and row.status == "pending" and row.next_attempt_at is not None
        assert attempt.error
    if case == "redirect":
        assert row.last_status_code == 302 and len(receiver.received) == 1  # not followed
    if case == "slow":
        assert row.last_error is not None and row.last_error.startswith("no answer within 0.5 s")
    if case in ("refused", "tls"):
        assert row.last_status_code is None and (row.last_error or "").startswith("no answer (")
    assert "127.0.0.1" not in (row.last_error or "")  # the URL is the receiver's secret


def test_rotation_signs_with_both_secrets_for_24_hours(make_ctx: Any, receiver: Receiver) -> None:
    ctx = make_ctx()
    created = endpoints.add_endpoint(ctx, actor=ADMIN, url=receiver.url)
    rotated = endpoints.rotate_secret(ctx, actor=ADMIN, endpoint_id=created.endpoint.id)
    assert rotated.secret != created.secret and rotated.secret.startswith("whsec_")
    assert rotated.endpoint.rotating_until is not None
    _event(ctx)
    deliver_due(ctx)
    (got,) = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(created.secret).verify(got.body, got.headers)
    Webhook(rotated.secret).verify(got.body, got.headers)
    assert created.secret not in repr(created) and "whsec_" not in repr(rotated)


def test_removed_endpoint_gets_nothing_and_its_pending_deliveries_fail(make_ctx: Any, receiver: Receiver) -> None:
    ctx = make_ctx()
    created = endpoints.add_endpoint(ctx, actor=ADMIN, url=receiver.url)
    _event(ctx)
    endpoints.remove_endpoint(ctx, actor=ADMIN, endpoint_id=created.endpoint.id)
    _event(ctx)
    assert deliver_due(ctx).attempts == 0 and receiver.received == []
    assert [r.status for r in endpoints.list_deliveries(ctx, actor=ADMIN)] == ["failed"]


def test_worker_killed_mid_delivery_is_redelivered_by_another(make_ctx: Any, receiver: Receiver,
                                                              tmp_path: Path) -> None:
    """SIGKILL while the receiver holds the request: another worker sends the same message once the lease
    (DASHBOARD_WEBHOOK_LEASE_SECONDS, 3 s here; 30 s by default) runs out."""
    ctx = make_ctx(dashboard_webhook_lease_seconds=3)
    created = endpoints.add_endpoint(ctx, actor=ADMIN, url=receiver.url)
    _event(ctx)
    receiver.script.append(lambda r: Answer(200, delay=30))
    s = ctx.settings
    keys = s.dashboard_encryption_keys
    assert keys is not None
    env = cli_env(DASHBOARD_DATABASE_URL=s.dashboard_database_url, DASHBOARD_ENCRYPTION_KEYS=keys.get_secret_value(),
                  DASHBOARD_DATA_DIR=str(s.dashboard_data_dir), DASHBOARD_WEBHOOK_ALLOW_PRIVATE="true",
                  DASHBOARD_WEBHOOK_LEASE_SECONDS="3", DASHBOARD_SANDBOX_URL="http://127.0.0.1:9")
    proc = subprocess.Popen(cli_command("webhooks", "deliver"), env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        receiver.wait_for(1, timeout=60)
        assert len(receiver.received) == 1, proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = time.monotonic()
    assert deliver_due(ctx).attempts == 0  # still leased to the dead worker
    row = _until(ctx, "succeeded", timeout=60)
    assert time.monotonic() - killed < 60
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
    assert row.attempts == 1  # the killed attempt wrote nothing
    assert len(receiver.verified(created.secret)) == 2


def test_running_worker_attempts_within_2_seconds_of_the_commit(make_ctx: Any, sandbox: Any,
                                                                receiver: Receiver) -> None:
    ctx = make_ctx()
    endpoints.add_endpoint(ctx, actor=ADMIN, url=receiver.url, event_types=[events.CREATED])
    stop = threading.Event()
    worker = RefreshWorker(ctx, kind="cli", interval=60)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # the worker's first sweep is under way
        install_portal(ctx, sandbox.url)
        committed = time.monotonic()
        (got,) = receiver.wait_for(1, timeout=10)
        assert got.at - committed < 2.0
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()


def test_two_replicas_share_the_queue_without_sending_twice(make_ctx: Any, receiver: Receiver) -> None:
    """Two contexts (replicas) draining at once: each delivery leased by one of them, each sent once."""
    first = make_ctx()
    keys = first.settings.dashboard_encryption_keys
    assert keys is not None
    # Replicas share the encryption keys (each settings_factory() call makes a new key under the same id: a
    # second replica on its own key could not read the endpoint's secret and put its claims back to retry).
    second = make_ctx(dashboard_encryption_keys=keys.get_secret_value())
    created = endpoints.add_endpoint(first, actor=ADMIN, url=receiver.url)
    for i in range(120):
        _event(first, hub_id=1 + i % 40, reason=f"n{i}")
    # A pass ends when it has nothing left to claim, and a portal's next event is claimable only once the one
    # before it is done: a portal whose event the other replica held is left to the next pass, as the
    # worker's runner makes it. Rounds of four passes at once until nothing is pending (bounded).
    for _ in range(10):
        threads = [threading.Thread(target=deliver_due, args=(c,)) for c in (first, second, first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        if {r.status for r in endpoints.list_deliveries(first, actor=ADMIN, limit=500)} == {"succeeded"}:
            break
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 120 and len(set(ids)) == 120
    assert len(receiver.verified(created.secret)) == 120
    assert {r.status for r in endpoints.list_deliveries(first, actor=ADMIN, limit=500)} == {"succeeded"}


def test_the_embedded_worker_delivers_and_stops_its_delivery_thread(make_ctx: Any, sandbox: Any,
                                                                    receiver: Receiver) -> None:
    from dashboard.refresh.worker import EmbeddedWorker

    ctx = make_ctx(dashboard_worker_interval_seconds=30)
    created = endpoints.add_endpoint(ctx, actor=ADMIN, url=receiver.url)
    embedded = EmbeddedWorker(ctx).start()
    try:
        hub = install_portal(ctx, sandbox.url).hub_id
        (got,) = receiver.wait_for(1, timeout=10)
        assert got.json()["type"] == events.CREATED and got.json()["data"]["hub_id"] == hub
    finally:
        embedded.stop()
    assert not embedded.thread.is_alive()
    assert not any(t.name == "webhook-deliveries" and t.is_alive() for t in threading.enumerate())
    assert len(receiver.verified(created.secret)) == 1


def test_keys_rotate_re_encrypts_webhook_secrets(make_ctx: Any, receiver: Receiver) -> None:
    from dashboard.admin import keys
    from dashboard.security.crypto import generate_key_entry

    first = make_ctx()
    created = endpoints.add_endpoint(first, actor=ADMIN, url=receiver.url)
    rotated = endpoints.rotate_secret(first, actor=ADMIN, endpoint_id=created.endpoint.id)
    old = first.settings.dashboard_encryption_keys
    assert old is not None
    new = generate_key_entry("k2")
    both = make_ctx(dashboard_encryption_keys=f"{new},{old.get_secret_value()}")
    keys.rotate_keys(both.engine, both.cipher, actor=ADMIN)
    only_new = make_ctx(dashboard_encryption_keys=new)  # the old key removed, as the README says to
    _event(only_new)
    assert deliver_due(only_new).succeeded == 1
    (got,) = receiver.received
    Webhook(created.secret).verify(got.body, got.headers)
    Webhook(rotated.secret).verify(got.body, got.headers)
