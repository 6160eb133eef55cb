"""Issue #10: a model-based test of the refresh engine against the sandbox (hypothesis stateful).

Random interleavings of installs, sweeps (random ``within`` / concurrency / limit), forced refreshes,
uninstalls at HubSpot, revokes, token-endpoint faults, TTL changes, key rotation, a missing key (and its
return), workers killed after claiming (their leases left behind) and workers killed after HubSpot answered
(the answer lost; the sandbox's 60 s rotation grace brings it back), and time passing. Rotation is on.

Checked inside every sweep: it ends; its refresh grants are at most the portals due when it started; no
portal is refreshed twice in it. Checked after every step: every stored refresh token is live at the
sandbox (or in its rotation grace after a lost answer) unless the portal is ``needs_reauth``, ``revoked``
or was uninstalled at HubSpot; a ``needs_reauth`` portal's token really is dead; a healthy-looking portal's
access token works at the sandbox; every grant has exactly one audit event (a killed worker's lost grant
has none, and is counted as such).

Runs on SQLite with database leases in the suite, and on PostgreSQL with Redis leases (marked). Each test
prints how many runs and steps it did.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, update

from dashboard import repository
from dashboard.admin import keys
from dashboard.connections import service as connections
from dashboard.context import AppContext, build_context
from dashboard.errors import DashboardError
from dashboard.lifecycle.breaker import breaker_for
from dashboard.models import AppCondition, AuditEvent, InstallAttempt, Portal, PortalStatus, utcnow
from dashboard.refresh import service as refresh
from dashboard.security import vault
from dashboard.security.crypto import KeyRing, TokenCipher, generate_key_entry
from dashboard.settings import load_settings
from tests.utils.lifecycle import ADMIN, FAST_RETRY
from tests.utils.seeding import make_due, seed_portals

PASS_LIMIT_S = 30.0


class Engine(RuleBasedStateMachine):
    """The engine as a user, a HubSpot customer, an operator and the machine's faults drive it."""

    base: AppContext  # set by the test: shared engine, HTTP client and leases
    url: str
    redis_prefix: str | None = None
    runs = 0
    steps = 0
    sweeps = 0
    grants = 0
    results: ClassVar[dict[str, int]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self.http.post("/_sandbox/reset").raise_for_status()
        self.control("config", {"rotate_refresh_tokens": True, "rotation_grace_s": 60})
        with self.base.session() as session:
            for table in (AuditEvent, InstallAttempt, Portal, AppCondition):  # AppCondition: the outage breaker
                session.execute(delete(table))
            session.commit()
        breaker_for(self.base).forget()  # each run starts with no attempts counted
        if self.redis_prefix is not None:
            import redis

            client = redis.Redis.from_url(str(self.base.settings.dashboard_lock_url.get_secret_value()))  # type: ignore[union-attr]
            for key in client.scan_iter(f"{self.redis_prefix}*"):
                client.delete(key)
            client.close()
        self.keys = [generate_key_entry("m0")]
        self.missing = False
        self.ctx = self._with(self.keys)
        self.hubs: list[int] = []
        self.revoked: set[int] = set()
        self.uninstalled: set[int] = set()
        self.lost_answers: set[int] = set()  # a killed worker got these grants and never stored them
        self.unaudited = 0
        type(self).runs += 1

    def teardown(self) -> None:
        self.http.close()

    def _with(self, entries: list[str]) -> AppContext:
        return dataclasses.replace(self.base, cipher=TokenCipher(KeyRing.parse(",".join(entries))))

    def control(self, path: str, body: dict[str, Any]) -> Any:
        resp = self.http.post(f"/_sandbox/{path}", json=body)
        resp.raise_for_status()
        return resp.json()

    def grants_by_hub(self) -> dict[int, int]:
        return {int(h): n for h, n in self.http.get("/_sandbox/stats").json()["refresh_by_hub"].items()}

    def refresh_tokens(self) -> dict[str, dict[str, Any]]:
        return {t["token"]: t for t in self.http.get("/_sandbox/tokens").json()["tokens"]}

    def live_hubs(self) -> list[int]:
        return [h for h in self.hubs if h not in self.revoked]

    def step(self) -> None:
        type(self).steps += 1

    # --- rules -------------------------------------------------------------------------------------

    @initialize(n=st.integers(1, 4))
    def start(self, n: int) -> None:
        self.install(n, due=True)

    @rule(n=st.integers(1, 3), due=st.booleans())
    def install(self, n: int, due: bool) -> None:
        self.step()
        self.hubs += seed_portals(self.ctx, self.url, n, due=due)

    @rule(within=st.sampled_from([None, 0, 120, 3600, 99_999]), concurrency=st.integers(1, 8),
          limit=st.one_of(st.none(), st.integers(1, 5)))
    def sweep(self, within: int | None, concurrency: int, limit: int | None) -> None:
        self.step()
        window = timedelta(seconds=within if within is not None else self.ctx.settings.dashboard_refresh_leeway_seconds)
        slack = utcnow() + timedelta(seconds=1)  # a superset of what the sweep finds a moment later
        with self.ctx.session() as session:
            due = set(repository.due_hub_ids(session=session, now=slack, within=window, limit=None,
                                             issued_before=slack - refresh.MIN_TOKEN_AGE))
        before = self.grants_by_hub()
        started = time.monotonic()
        outcomes = refresh.refresh_due(self.ctx, within=None if within is None else timedelta(seconds=within),
                                       concurrency=concurrency, limit=limit, actor=ADMIN)
        assert time.monotonic() - started < PASS_LIMIT_S, "the pass did not end in time"
        after = self.grants_by_hub()
        made = {h: n - before.get(h, 0) for h, n in after.items() if n != before.get(h, 0)}
        assert all(n == 1 for n in made.values()), f"a portal was refreshed twice in one pass: {made}"
        assert len(made) <= len(due) and set(made) <= due, "a pass refreshed more than was due at its start"
        assert len(made) <= (limit if limit is not None else len(made))
        seen = [o.hub_id for o in outcomes]
        assert len(seen) == len(set(seen)), "a pass considered a portal twice"
        self.lost_answers -= {o.hub_id for o in outcomes if o.result == "refreshed"}
        type(self).sweeps += 1
        type(self).grants += len(made)
        for o in outcomes:
            type(self).results[o.result] = type(self).results.get(o.result, 0) + 1

    @rule(within=st.sampled_from([None, 3600, 99_999]), concurrency=st.integers(1, 8),
          limit=st.one_of(st.none(), st.integers(1, 5)))
    def time_passes_then_sweep(self, within: int | None, concurrency: int, limit: int | None) -> None:
        """The common case, drawn more often: tokens came due, and a worker sweeps."""
        self.time_passes()
        self.sweep(within, concurrency, limit)

    @rule(within=st.sampled_from([None, 0, 3600]), concurrency=st.integers(1, 8))
    def another_worker_sweeps(self, within: int | None, concurrency: int) -> None:
        """A second worker's pass (drawn as often as the others, so sweeps interleave with everything)."""
        self.sweep(within, concurrency, None)

    @precondition(lambda self: bool(self.live_hubs()))
    @rule(data=st.data())
    def force_refresh(self, data: st.DataObject) -> None:
        self.step()
        hub = data.draw(st.sampled_from(self.live_hubs()))
        outcome = refresh.refresh_portal(self.ctx, hub, actor=ADMIN, force=True)
        if outcome.result == "refreshed":
            self.lost_answers.discard(hub)

    @precondition(lambda self: bool(self.live_hubs()))
    @rule(data=st.data())
    def customer_uninstalls(self, data: st.DataObject) -> None:
        self.step()
        hub = data.draw(st.sampled_from(self.live_hubs()))
        self.control("uninstall", {"hub_id": hub})
        self.uninstalled.add(hub)

    @precondition(lambda self: bool(self.live_hubs()))
    @rule(data=st.data(), local_only=st.booleans())
    def revoke(self, data: st.DataObject, local_only: bool) -> None:
        self.step()
        hub = data.draw(st.sampled_from(self.live_hubs()))
        try:
            connections.revoke(self.ctx, hub, actor=ADMIN, local_only=local_only)
        except DashboardError:
            return  # HubSpot refused or the key is missing: nothing changed locally
        self.revoked.add(hub)

    @rule(count=st.integers(1, 4), status=st.sampled_from([429, 500, 503]))
    def token_endpoint_faults(self, count: int, status: int) -> None:
        self.step()
        self.control("faults", {"target": "token", "error_rate": 1.0, "error_status": status, "count": count})

    @rule(ttl=st.sampled_from([30, 61, 600, 1800]))
    def ttl_changes(self, ttl: int) -> None:
        self.step()
        self.control("config", {"access_token_ttl": ttl})

    @precondition(lambda self: not self.missing)
    @rule()
    def rotate_key(self) -> None:
        self.step()
        self.keys.insert(0, generate_key_entry(f"m{len(self.keys)}"))
        self.ctx = self._with(self.keys)
        result = keys.rotate_keys(self.ctx.engine, self.ctx.cipher, actor=ADMIN, batch_size=3)
        assert result.unreadable == () and result.remaining == 0

    @precondition(lambda self: not self.missing)
    @rule()
    def key_goes_missing(self) -> None:
        """A deploy with only a new key configured: every existing row names a key we no longer have."""
        self.step()
        fresh = generate_key_entry(f"m{len(self.keys)}")
        self.keys.append(fresh)  # rows written meanwhile use it; it stays configured once the others return
        self.ctx = self._with([fresh])
        self.missing = True

    @precondition(lambda self: self.missing)
    @rule()
    def key_comes_back(self) -> None:
        self.step()
        self.ctx = self._with(self.keys)
        self.missing = False

    @rule(n=st.integers(1, 4))
    def worker_killed_after_claiming(self, n: int) -> None:
        """A worker died right after its claim: its leases stay until they run out."""
        self.step()
        now = utcnow()
        with self.ctx.session() as session:
            repository.claim_due_portals(session=session, owner=uuid.uuid4().hex, now=now, within=timedelta(0),
                                         ttl=refresh.lease_ttl(self.ctx), limit=n)
            session.commit()

    @precondition(lambda self: not self.missing and bool(self.live_hubs()))
    @rule(data=st.data())
    def worker_killed_after_hubspot_answered(self, data: st.DataObject) -> None:
        """A worker sent a refresh and died before storing the answer (rotation: the stored token is now in
        its grace period). Only the grant happened: it has no audit event, and the lease stays behind."""
        self.step()
        hub = data.draw(st.sampled_from(self.live_hubs()))
        owner = uuid.uuid4().hex
        if not self.ctx.leases.acquire(hub, owner, refresh.lease_ttl(self.ctx)):
            return
        with self.ctx.session() as session:
            portal = repository.get_portal(session=session, hub_id=hub)
        assert portal is not None
        if portal.status != PortalStatus.ACTIVE or portal.refresh_token_ct is None:
            return
        before = sum(self.grants_by_hub().values())
        with contextlib.suppress(DashboardError):  # a fault: no grant, nothing lost
            self.ctx.hubspot.refresh(vault.open_tokens(self.ctx.cipher, portal).refresh_token)
        self.unaudited += sum(self.grants_by_hub().values()) - before
        self.lost_answers.add(hub)

    def time_passes(self) -> None:
        """Leases and backoffs run out and every token comes due (our clock; the sandbox's stays)."""
        self.step()
        hubs = self.live_hubs()
        make_due(self.ctx, hubs)
        with self.ctx.session() as session:
            session.execute(update(Portal).values(next_attempt_at=None, lease_owner=None, lease_expires_at=None))
            session.commit()
        if self.redis_prefix is not None:
            import redis

            client = redis.Redis.from_url(str(self.base.settings.dashboard_lock_url.get_secret_value()))  # type: ignore[union-attr]
            for key in client.scan_iter(f"{self.redis_prefix}*"):
                client.delete(key)
            client.close()

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def stored_tokens_match_the_sandbox(self) -> None:
        full = TokenCipher(KeyRing.parse(",".join(self.keys)))
        issued = self.refresh_tokens()
        now = utcnow()
        with self.base.session() as session:
            portals = [p for h in self.hubs if (p := repository.get_portal(session=session, hub_id=h)) is not None]
        for portal in portals:
            hub = portal.hub_id
            if portal.status == PortalStatus.REVOKED:
                assert portal.refresh_token_ct is None and hub in self.revoked
                continue
            tokens = vault.open_tokens(full, portal)
            stored = issued[tokens.refresh_token]
            if portal.status == PortalStatus.NEEDS_REAUTH:
                assert not stored["active"] and not stored["in_grace"], \
                    f"hub {hub}: needs_reauth, but its token is live"
                continue
            if hub in self.uninstalled:
                continue  # dead at HubSpot; marked needs_reauth at the next attempt
            if hub in self.lost_answers:
                assert stored["active"] or stored["in_grace"], f"hub {hub}: a lost answer outlived its grace"
                continue
            assert stored["active"], f"hub {hub} ({portal.status}): the stored refresh token is dead"
            if portal.status == PortalStatus.ACTIVE and portal.expires_at is not None and \
                    portal.expires_at > now + timedelta(seconds=5):
                assert issued[tokens.access_token]["active"], f"hub {hub}: shown healthy, access token dead"

    @invariant()
    def every_grant_has_one_audit_event(self) -> None:
        grants = sum(self.grants_by_hub().values())
        with self.base.session() as session:
            events = repository.list_audit_events(session=session, action="refresh", limit=100_000)
        audited = sum(1 for e in events if e.outcome in ("success", "conflict"))
        assert audited == grants - self.unaudited, (audited, grants, self.unaudited)


@pytest.fixture
def model_ctx(request: pytest.FixtureRequest, tmp_path: Path, sandbox: Any) -> Iterator[AppContext]:
    env = {"DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'model.db'}",
           "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("m0"), "DASHBOARD_DATA_DIR": str(tmp_path / "data")}
    if getattr(request, "param", "sqlite") == "postgres+redis":
        env["DASHBOARD_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["DASHBOARD_LOCK_URL"] = request.getfixturevalue("redis_url")
        env["DASHBOARD_LOCK_PREFIX"] = request.getfixturevalue("redis_prefix")
    ctx = build_context(load_settings(env, secrets_path=None), sandbox_url=sandbox.url, retry=FAST_RETRY)
    yield ctx
    httpx.post(f"{sandbox.url}/_sandbox/reset", timeout=10)
    ctx.close()


@pytest.mark.slow
@pytest.mark.parametrize("model_ctx", [
    "sqlite", pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
], indirect=True)
def test_the_engine_against_the_sandbox(model_ctx: AppContext, sandbox: Any) -> None:
    Engine.base, Engine.url = model_ctx, sandbox.url
    Engine.redis_prefix = model_ctx.settings.dashboard_lock_prefix if model_ctx.settings.dashboard_lock_url else None
    Engine.runs = Engine.steps = Engine.sweeps = Engine.grants = 0
    Engine.results = {}
    started = time.monotonic()
    run_state_machine_as_test(Engine, settings=settings(
        max_examples=40, stateful_step_count=20, deadline=None, derandomize=False, database=None,
        suppress_health_check=list(HealthCheck)))
    print(f"\nrefresh model on {model_ctx.leases.name} leases / {model_ctx.settings.database_backend}: "
          f"runs={Engine.runs} steps={Engine.steps} sweeps={Engine.sweeps} sweep_grants={Engine.grants} "
          f"sweep_outcomes={Engine.results} "
          f"in {time.monotonic() - started:.0f} s")
