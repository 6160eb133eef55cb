"""Random interleavings of events, failing receivers, passes, redeliveries and lease expiries (hypothesis
stateful, SQLite): invariants after every step. Bounds are invariants too: a delivery is attempted at most
1 + len(schedule) times between redeliveries; per endpoint a portal's events reach the receiver in commit
order; nothing is lost: once quiet, every delivery is succeeded or failed and every succeeded one arrived."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import update

from dashboard.context import AppContext, build_context
from dashboard.models import utcnow
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from dashboard.webhook_models import WebhookDelivery
from dashboard.webhooks import endpoints, events, outbox
from dashboard.webhooks.delivery import deliver_due
from tests.utils.lifecycle import ADMIN
from tests.utils.webhook_receiver import Answer, webhook_receiver

SCHEDULE = (0.0, 0.0)
HUBS = (11, 12, 13)


class Deliveries(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="webhook-state-")
        self.receivers = [webhook_receiver(), webhook_receiver()]
        self.rx = [r.__enter__() for r in self.receivers]
        settings = load_settings({}, secrets_path=None,
                                 dashboard_database_url=f"sqlite:///{self.tmp.name}/s.db",
                                 dashboard_data_dir=Path(self.tmp.name),
                                 dashboard_encryption_keys=generate_key_entry("s"),
                                 dashboard_webhook_allow_private=True,
                                 dashboard_webhook_retry_schedule=",".join(map(str, SCHEDULE)))
        self.ctx: AppContext = build_context(settings, start_sandbox=False)
        self.endpoint_ids = [endpoints.add_endpoint(self.ctx, actor=ADMIN, url=r.url).endpoint.id for r in self.rx]
        self.committed: dict[int, list[str]] = {h: [] for h in HUBS}
        self.counter = 0
        self.redelivered = False

    def teardown(self) -> None:
        self.ctx.close()
        for r in self.receivers:
            r.__exit__(None, None, None)
        self.tmp.cleanup()

    @rule(hub=st.sampled_from(HUBS), n=st.integers(1, 4))
    def commit_events(self, hub: int, n: int) -> None:
        with self.ctx.session() as s:
            for _ in range(n):
                self.counter += 1
                reason = f"e{self.counter}"
                outbox.enqueue(s, event_type=events.RECOVERED, data={
                    "app": self.ctx.app_id, "hub_id": hub, "hub_domain": None, "status": "active", "reason": reason,
                    "scopes": []})
                self.committed[hub].append(reason)
            s.commit()

    @rule(which=st.integers(0, 1), statuses=st.lists(st.sampled_from([500, 302, 404, 200]), max_size=4))
    def receiver_fails_next(self, which: int, statuses: list[int]) -> None:
        self.rx[which].script.extend([lambda r, code=code: Answer(code)] for code in statuses)  # type: ignore[misc]

    @rule()
    def one_pass(self) -> None:
        deliver_due(self.ctx)

    @rule()
    def a_worker_dies_holding_leases(self) -> None:
        """Leases taken by a worker that never reports: expired at once, so the next pass takes them."""
        with self.ctx.session() as s:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.status == "pending")  # type: ignore[arg-type]
                      .values(lease_owner="dead", lease_expires_at=utcnow() - timedelta(seconds=1)))
            s.commit()

    @precondition(lambda self: hasattr(self, "ctx"))
    @rule(data=st.data())
    def redeliver_a_failed_one(self, data: Any) -> None:
        failed = endpoints.list_deliveries(self.ctx, actor=ADMIN, status="failed", limit=50)
        if failed:
            endpoints.redeliver(self.ctx, actor=ADMIN, delivery_id=data.draw(st.sampled_from([r.id for r in failed])))
            self.redelivered = True

    @invariant()
    def bounded_attempts(self) -> None:
        if not hasattr(self, "ctx"):
            return
        for row in endpoints.list_deliveries(self.ctx, actor=ADMIN, limit=1000):
            assert row.attempts <= 1 + len(SCHEDULE)
            assert row.status in ("pending", "succeeded", "failed")

    @invariant()
    def in_order_per_portal(self) -> None:
        if not hasattr(self, "ctx"):
            return
        for r in self.rx:
            firsts: dict[int, list[int]] = {}
            for got in r.received:
                payload = got.json()
                n = int(payload["data"]["reason"][1:])
                seen = firsts.setdefault(payload["data"]["hub_id"], [])
                if n not in seen:
                    seen.append(n)
            if not self.redelivered:  # a redelivery re-sends an old event on purpose
                for seq in firsts.values():
                    assert seq == sorted(seq)

    def _quiesce(self) -> None:
        self.rx[0].script.clear()
        self.rx[1].script.clear()
        for _ in range(50):
            if not deliver_due(self.ctx).attempts:
                break

    @precondition(lambda self: hasattr(self, "ctx"))
    @rule()
    def nothing_is_lost_once_quiet(self) -> None:
        self._quiesce()
        rows = endpoints.list_deliveries(self.ctx, actor=ADMIN, limit=1000)
        assert len(rows) == 2 * self.counter
        assert all(r.status in ("succeeded", "failed") for r in rows)
        for endpoint_id, r in zip(self.endpoint_ids, self.rx, strict=True):
            arrived = {g.headers["webhook-id"] for g in r.received}
            succeeded = {row.msg_id for row in rows if row.endpoint_id == endpoint_id and row.status == "succeeded"}
            assert succeeded <= arrived


Deliveries.TestCase.settings = hsettings(max_examples=12, stateful_step_count=12, deadline=None)
TestDeliveries = Deliveries.TestCase
