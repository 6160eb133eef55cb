"""Issue 23 item 1: the health state machine under random sequences of HubSpot's answers (hypothesis stateful).

HubSpot's answers are arbitrary per step (200, 400 ``BAD_REFRESH_TOKEN`` / ``BAD_HUB``, 401, 429, 5xx, a
timeout, a malformed body), which the sandbox cannot serve on demand: an ``httpx.MockTransport`` plays
HubSpot. Our code runs for real on a SQLite file: refreshes (manual and the sweep), a missing key, new
grants, revokes and uninstalls. After every step: the row's state equals the model's (the pure rule
applied to what happened); no way out of a terminal state without a new grant; ``failing_since`` is set
exactly while failing; the displayed status belongs to the state; every move of the model is one
transition in the portal's timeline, and nothing else is.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from dashboard import repository, status
from dashboard.connections import service as connections
from dashboard.context import AppContext, build_context
from dashboard.hubspot.protocol import TokenResponse
from dashboard.installs import grants
from dashboard.lifecycle.machine import TERMINAL_STATES, HealthEvent, HealthState, display_family, state_of, step
from dashboard.models import utcnow
from dashboard.refresh import service as refresh
from dashboard.security.crypto import KeyRing, TokenCipher, generate_key_entry
from tests.utils.lifecycle import ADMIN, FAST_RETRY

HUBS = (1001, 1002)
ANSWERS = ("ok", "bad_refresh_token", "bad_hub", "401", "429", "500", "503", "timeout", "malformed")
EXPECTED = {"ok": HealthEvent.REFRESHED, "bad_refresh_token": HealthEvent.TERMINAL, "bad_hub": HealthEvent.TERMINAL,
            "401": HealthEvent.CONFIGURATION, "429": HealthEvent.TRANSIENT, "500": HealthEvent.TRANSIENT,
            "503": HealthEvent.TRANSIENT, "timeout": HealthEvent.TRANSIENT, "malformed": HealthEvent.TRANSIENT}


class HubSpot:
    """The next answer of the token endpoint; everything else (revoke, uninstall) succeeds."""

    def __init__(self) -> None:
        self.answer = "ok"
        self.n = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/token"):
            return httpx.Response(204) if request.method == "DELETE" else httpx.Response(200, json={})
        self.n += 1
        a = self.answer
        if a == "ok":
            return httpx.Response(200, json={"access_token": f"at-{self.n}", "refresh_token": f"rt-{self.n}",
                                             "expires_in": 1800, "token_type": "bearer"})
        if a in ("bad_refresh_token", "bad_hub"):
            return httpx.Response(400, json={"status": a.upper(), "message": "missing or invalid refresh token",
                                             "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
                                             "error": "invalid_grant", "category": "VALIDATION_ERROR"})
        if a == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if a == "malformed":
            return httpx.Response(200, content=b"<html>\x1b[31m not json")
        return httpx.Response(int(a), json={"status": "error", "message": f"HTTP {a}", "category": "X"})


class Machine(RuleBasedStateMachine):
    ctx: AppContext
    hubspot: HubSpot
    keys: str

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[int, HealthState] = {}
        self.moves: dict[int, int] = {}
        self.key_gone = False  # the cipher holds "other" instead of "k1"
        self.sealed_by_other: set[int] = set()  # portals granted while it did
        self.other = generate_key_entry("other")  # one "other" key per run: a second key_goes keeps it readable
        with self.ctx.session() as session:
            session.execute(repository.health.delete(repository.health.AuditEvent))  # a fresh timeline
            session.execute(repository.health.delete(repository.health.Portal))
            session.execute(repository.health.delete(repository.health.AppCondition))
            session.commit()

    def _grant(self, hub: int) -> None:
        tokens = TokenResponse(f"at-g{hub}", f"rt-g{hub}", 1800, hub, ("oauth",), None, "bearer")
        grants.store_tokens(self.ctx, ADMIN, tokens, None, action="import", identity=(hub, ("oauth",), None))
        (self.sealed_by_other.add if self.key_gone else self.sealed_by_other.discard)(hub)
        self._expect(hub, HealthEvent.GRANTED)

    def _expect(self, hub: int, event: HealthEvent) -> None:
        before = self.model.get(hub)
        after = step(before, event) if before is not None else HealthState.HEALTHY
        if after != before:
            self.moves[hub] = self.moves.get(hub, 0) + 1
        self.model[hub] = after

    @initialize()
    def installed(self) -> None:
        for hub in HUBS:
            self._grant(hub)

    @rule(hub=st.sampled_from(HUBS), answer=st.sampled_from(ANSWERS), sweep=st.booleans())
    def hubspot_answers(self, hub: int, answer: str, sweep: bool) -> None:
        self.hubspot.answer = answer
        if sweep:  # the worker: due now; terminal portals are not refreshed automatically
            with self.ctx.session() as session:
                repository.update_portal(session=session, hub_id=hub, values={
                    "expires_at": utcnow(), "next_attempt_at": None, "last_refresh_at": None})
                session.commit()
            outcomes = refresh.refresh_due(self.ctx, actor=ADMIN, concurrency=2)
        else:
            outcomes = [refresh.refresh_portal(self.ctx, hub, actor=ADMIN, force=True)]
        for outcome in outcomes:
            if outcome.result not in ("refreshed", "failed", "needs_reauth") or \
                    self.model[outcome.hub_id] in TERMINAL_STATES:
                continue  # not attempted: deferred, skipped, fresh; a terminal portal is never refreshed
            unreadable = self.key_gone != (outcome.hub_id in self.sealed_by_other)
            self._expect(outcome.hub_id, HealthEvent.KEY if unreadable else EXPECTED[answer])

    @rule(hub=st.sampled_from(HUBS))
    def new_grant(self, hub: int) -> None:
        self._grant(hub)

    @rule(hub=st.sampled_from(HUBS))
    def revoke(self, hub: int) -> None:
        if self.model[hub] in (HealthState.REVOKED, HealthState.UNINSTALLED):
            return
        connections.revoke(self.ctx, hub, actor=ADMIN, local_only=True)
        self._expect(hub, HealthEvent.REVOKED)

    @rule()
    def key_goes(self) -> None:
        self.ctx.cipher = TokenCipher(KeyRing.parse(self.other))
        self.key_gone = True

    @rule()
    def key_returns(self) -> None:
        self.ctx.cipher = TokenCipher(KeyRing.parse(self.keys))
        self.key_gone = False

    @invariant()
    def row_is_the_model(self) -> None:
        now = utcnow()
        with self.ctx.session() as session:
            for hub, expected in self.model.items():
                portal = repository.portal_or_not_found(session=session, hub_id=hub)
                state = state_of(portal.status, portal.last_refresh_result)
                assert state == expected, (hub, state, expected)
                assert (portal.failing_since is not None) == (state == HealthState.FAILING)
                shown = status.display_status(portal.status, portal.expires_at, now, timedelta(minutes=5),
                                              portal.last_refresh_result)
                assert display_family(shown) == state
                timeline = repository.list_timeline(session=session, hub_id=hub, kinds=["transition"], limit=1000)
                assert len(timeline) == self.moves[hub]
                for event in timeline:
                    assert event.to_state == event.outcome and event.from_state != event.to_state

    def teardown(self) -> None:
        self.ctx.cipher = TokenCipher(KeyRing.parse(self.keys))


@pytest.fixture
def machine_ctx(settings_factory: Any) -> Any:
    keys = generate_key_entry("k1")
    hubspot = HubSpot()
    ctx = build_context(settings_factory(dashboard_encryption_keys=keys), sandbox_url="http://127.0.0.1:9",
                        transport=httpx.MockTransport(hubspot), retry=FAST_RETRY)
    yield ctx, hubspot, keys
    ctx.close()


def test_the_health_state_machine_under_random_answers(machine_ctx: Any) -> None:
    Machine.ctx, Machine.hubspot, Machine.keys = machine_ctx
    run_state_machine_as_test(Machine, settings=settings(max_examples=25, stateful_step_count=15, deadline=None,
                                                         suppress_health_check=list(HealthCheck)))


def test_what_is_kept_of_a_failed_answer(machine_ctx: Any) -> None:
    ctx, hubspot, _ = machine_ctx
    tokens = TokenResponse("at", "rt", 1800, 7, ("oauth",), None, "bearer")
    grants.store_tokens(ctx, ADMIN, tokens, None, action="import", identity=(7, ("oauth",), None))
    hubspot.answer = "bad_hub"
    assert refresh.refresh_portal(ctx, 7, actor=ADMIN, force=True).result == "needs_reauth"
    with ctx.session() as session:
        [event] = repository.list_timeline(session=session, hub_id=7, kinds=["refresh"])
    assert (event.http_status, event.hubspot_status, event.hubspot_category) == (400, "BAD_HUB", "VALIDATION_ERROR")
    assert event.correlation_id == "aeb5f871-7f07-4993-9211-075dc63e7cbf" and event.attempt == 1
    assert event.duration_ms is not None and event.answer == "missing or invalid refresh token"
    print(json.dumps({"kept": [event.http_status, event.hubspot_status, event.correlation_id]}))
