"""Issue #4: a refresh worker killed at random moments of a sweep, with rotating refresh tokens.

The invariant: no portal is left holding a dead refresh token while the sandbox holds a live one for it.

With strict rotation no client can keep it. HubSpot rotates when it processes the request; a worker killed
after sending the request and before committing the answer loses the new token. The part the client
controls (answer received, not yet committed) is a few milliseconds of sealing and one UPDATE. The rest,
requests in flight at the kill, the server still processes (the sandbox reads each request before its
latency, as a real server has it once sent). So these tests pin down what is achievable:

* a rotation grace period (a sandbox option; HubSpot documents no rotation, so rotation behaviour is our
  choice): the next sweep refreshes with the previous token and gets the lost successor back. The invariant
  holds after every kill, and nothing needs re-authorization;
* strict rotation: every lost token is detected on the next sweep (``needs_reauth``, an audit event, an
  alert), never retried, never silently broken;
* SIGTERM (systemd stop, deploys): the worker finishes the refreshes in flight and claims none, so even
  strict rotation loses nothing;
* rotation off (HubSpot's observed behaviour): the stored token is always the live one.

Workers are forked from a zygote (tests/utils/worker_zygote.py), so a trial costs a fork, not an interpreter
start. Each test prints its figures (run with ``-s``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col

from dashboard import repository
from dashboard.context import AppContext, build_context
from dashboard.hubspot.client import RetryPolicy
from dashboard.installs import flow as install
from dashboard.models import Portal, PortalStatus, utcnow
from dashboard.refresh import service as refresh
from dashboard.security import vault
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import Settings, load_settings
from tests.utils.cli import cli_env
from tests.utils.lifecycle import ADMIN, FAST_RETRY
from tests.utils.seeding import SEED_SCOPES, make_due, seed_portals
from tests.utils.worker_zygote import Zygote

PORTALS = 32
LATENCY_MS = 100  # a realistic token endpoint; every sweep of 32 portals at concurrency 8 takes ~4 round trips
GRACE_S = 60  # the common value (issue #10): longer than a worker's lease (WORKER_LEASE, 45 s by default)
WORKER_LEASE = refresh.lease_ttl_for(Settings.model_fields["dashboard_token_timeout_seconds"].default, RetryPolicy())
WORKER = ["refresh", "--due", "--concurrency", "8"]


@dataclass
class Rig:
    ctx: AppContext
    http: httpx.Client  # the sandbox's controls
    hubs: list[int]
    zygote: Zygote
    env: dict[str, str]
    cwd: Path
    sweep_s: float = 0.0
    returncode: int = 0
    figures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("kills", "interrupted", "kills_with_loss", "lost", "answered_before_kill", "in_flight_at_kill"), 0))

    def control(self, path: str, body: dict[str, Any]) -> Any:
        resp = self.http.post(f"/_sandbox/{path}", json=body)
        resp.raise_for_status()
        return resp.json()

    def refresh_tokens(self) -> list[dict[str, Any]]:
        return [t for t in self.http.get("/_sandbox/tokens").json()["tokens"] if t["kind"] == "refresh"]

    def spawn(self) -> int:
        return self.zygote.spawn(WORKER, env=self.env, cwd=self.cwd, log=self.cwd / "worker.log")

    def run_and_signal(self, sig: signal.Signals) -> float:
        """Make every portal due, start a worker, signal it at a random moment of its sweep; the signal time."""
        make_due(self.ctx, self.hubs)
        self.control("config", {"latency_ms": LATENCY_MS})
        pid = self.spawn()
        time.sleep(random.uniform(0, self.sweep_s))
        os.kill(pid, sig)
        at = time.time()
        self.returncode = self.zygote.wait(pid)
        if sig == signal.SIGKILL:
            self.figures["kills"] += self.returncode == -signal.SIGKILL
        self.settle()
        with self.ctx.session() as session:
            self.figures["interrupted"] += any(repository.get_portal(session=session, hub_id=h).expires_at < utcnow()
                                               for h in self.hubs)
        return at

    def settle(self) -> None:
        """Wait until the requests sent before the signal have been through the sandbox's token handler."""
        time.sleep(LATENCY_MS / 1000)
        seen = -1
        while (grants := self.http.get("/_sandbox/stats").json()["token_requests"]["refresh_token"]) != seen:
            seen = grants
            time.sleep(0.05)

    def next_sweep(self) -> list[refresh.RefreshOutcome]:
        """The next worker's sweep, once the killed worker's leases have expired (time passes instantly)."""
        ttl = WORKER_LEASE  # the CLI worker's lease (this test's own context retries faster)
        with self.ctx.session() as session:
            session.execute(update(Portal).where(col(Portal.lease_owner).is_not(None))
                            .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
            session.commit()
        self.control("clock", {"advance": ttl.total_seconds()})
        self.control("config", {"latency_ms": 0})
        return refresh.refresh_due(self.ctx, concurrency=8, actor=ADMIN)


def stored_refresh_tokens(ctx: AppContext, hubs: list[int]) -> dict[int, str]:
    with ctx.session() as session:
        portals = [repository.get_portal(session=session, hub_id=h) for h in hubs]
    return {p.hub_id: vault.open_tokens(ctx.cipher, p).refresh_token for p in portals if p is not None}


def lost_tokens(rig: Rig, killed_at: float) -> tuple[set[int], set[int]]:
    """(portals whose stored token is dead while a live one exists, portals whose stored one is in grace)."""
    offset = rig.control("clock", {"advance": 0})["offset"]
    rows: dict[int, list[dict[str, Any]]] = {}
    for row in rig.refresh_tokens():
        rows.setdefault(row["hub_id"], []).append(row)
    dead, grace = set(), set()
    for hub, token in stored_refresh_tokens(rig.ctx, rig.hubs).items():
        stored = next(r for r in rows[hub] if r["token"] == token)
        live = sorted((r for r in rows[hub] if r["active"]), key=lambda r: r["issued_at"])
        if stored["active"]:
            continue
        if stored["in_grace"]:
            grace.add(hub)
        elif live:
            dead.add(hub)
        else:
            continue
        before = live[-1]["issued_at"] - offset < killed_at  # the newest: older ones were lost in earlier trials
        rig.figures["answered_before_kill" if before else "in_flight_at_kill"] += 1
    rig.figures["lost"] += len(dead | grace)
    rig.figures["kills_with_loss"] += bool(dead | grace)
    return dead, grace


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    spawner = Zygote()
    yield spawner
    spawner.close()


@pytest.fixture
def rig(tmp_path: Path, sandbox: Any, zygote: Zygote, alert_sink: Any) -> Iterator[Rig]:
    random.seed(4)  # repeatable kill moments; the machine's timing still varies
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'dashboard.db'}",
        "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("crash1"),
        "DASHBOARD_DATA_DIR": str(tmp_path / "data"),
    }
    ctx = build_context(load_settings({**env, "DASHBOARD_ALERT_WEBHOOK_URL": alert_sink[0],
                                         "DASHBOARD_ALERT_MIN_INTERVAL_SECONDS": "0"}, secrets_path=None),
                        sandbox_url=sandbox.url, retry=FAST_RETRY)
    http = httpx.Client(base_url=sandbox.url, timeout=30)
    try:
        rig = Rig(ctx, http, seed_portals(ctx, sandbox.url, PORTALS), zygote,
                  cli_env(**env, DASHBOARD_SANDBOX_URL=sandbox.url), tmp_path)
        rig.control("config", {"latency_ms": LATENCY_MS})
        zygote.wait(rig.spawn())  # the zygote's first child also waits for its warm-up
        make_due(ctx, rig.hubs)
        started = time.perf_counter()
        assert zygote.wait(rig.spawn()) == 0
        rig.sweep_s = time.perf_counter() - started
        yield rig
    finally:
        rig.control("reset", {})
        http.close()
        ctx.close()


def report(name: str, rig: Rig, trials: int) -> None:
    f = rig.figures
    print(f"\n{name}: trials={trials} sweep_s={rig.sweep_s:.2f} " + " ".join(f"{k}={v}" for k, v in f.items()))


def test_sigkill_with_a_rotation_grace_period_never_loses_a_token(rig: Rig) -> None:
    rig.control("config", {"rotate_refresh_tokens": True, "rotation_grace_s": GRACE_S})
    trials = 25
    for _ in range(trials):
        killed_at = rig.run_and_signal(signal.SIGKILL)
        dead, grace = lost_tokens(rig, killed_at)
        assert dead == set(), "a stored refresh token is dead although the sandbox holds a live one"
        outcomes = rig.next_sweep()
        assert {o.result for o in outcomes} <= {"refreshed"}, [o for o in outcomes if o.result != "refreshed"]
        assert grace <= {o.hub_id for o in outcomes}  # the lost successor came back through the grace
        rig.control("clock", {"advance": GRACE_S + 1})  # every grace is over
        live = {t["hub_id"]: t["token"] for t in rig.refresh_tokens() if t["active"]}
        assert stored_refresh_tokens(rig.ctx, rig.hubs) == {h: live[h] for h in rig.hubs}
    s = rig.http.get("/_sandbox/stats").json()
    assert s["errors"].get("invalid_grant", 0) == 0
    assert s["grace_reuses"] == rig.figures["lost"]
    assert rig.figures["kills_with_loss"] > 0, "no kill landed in a refresh: the test proved nothing"
    with rig.ctx.session() as session:
        assert repository.status_counts(session=session) == {PortalStatus.ACTIVE: PORTALS}
    report("grace", rig, trials)


def test_sigkill_with_strict_rotation_every_lost_token_is_detected(rig: Rig, alert_sink: Any) -> None:
    rig.control("config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0})
    _, alerts = alert_sink
    trials = 25
    for _ in range(trials):
        killed_at = rig.run_and_signal(signal.SIGKILL)
        dead, grace = lost_tokens(rig, killed_at)
        assert grace == set()
        alerts.clear()
        outcomes = {o.hub_id: o.result for o in rig.next_sweep()}
        # Detected on the next sweep: exactly the lost ones need re-authorization, with an alert and an audit
        # event each; every other due portal refreshed normally.
        assert {h for h, r in outcomes.items() if r == "needs_reauth"} == dead
        assert {r for h, r in outcomes.items() if h not in dead} <= {"refreshed"}
        assert {json.loads(a)["hub_id"] for a in alerts if json.loads(a)["event"] == "needs_reauth"} == dead
        with rig.ctx.session() as session:
            for hub in dead:
                events = repository.list_audit_events(session=session, hub_id=hub, action="refresh",
                                                      outcome="failure", limit=1)
                assert events and events[0].detail.startswith("invalid_grant")
        for hub in dead:  # the customer re-authorizes (a fresh token pair) before the next trial
            pair = rig.http.post("/_sandbox/issue", json={"hub_id": hub, "scopes": list(SEED_SCOPES)})
            install.import_tokens(rig.ctx, actor=ADMIN, token_response_json=pair.content)
    assert rig.figures["kills_with_loss"] > 0, "no kill landed in a refresh: the test proved nothing"
    report("strict", rig, trials)


@pytest.mark.parametrize("rotate", [True, False], ids=["strict-rotation", "rotation-off"])
def test_sigterm_finishes_the_refreshes_in_flight(rig: Rig, rotate: bool) -> None:
    """SIGTERM: no token is lost even with strict rotation, and the worker exits cleanly."""
    rig.control("config", {"rotate_refresh_tokens": rotate, "rotation_grace_s": 0})
    for _ in range(5):
        killed_at = rig.run_and_signal(signal.SIGTERM)
        assert rig.returncode in (0, -signal.SIGTERM)  # -15: the signal came before the sweep began
        assert lost_tokens(rig, killed_at) == (set(), set())
        assert {o.result for o in rig.next_sweep()} <= {"refreshed"}
    assert rig.http.get("/_sandbox/stats").json()["errors"].get("invalid_grant", 0) == 0
    assert "Traceback" not in (rig.cwd / "worker.log").read_text()
    report(f"sigterm rotate={rotate}", rig, 5)


def test_sigkill_with_rotation_off_never_loses_a_token(rig: Rig) -> None:
    """HubSpot's observed behaviour: the refresh token never changes, so a kill cannot orphan it."""
    rig.control("config", {"rotate_refresh_tokens": False})
    before = stored_refresh_tokens(rig.ctx, rig.hubs)
    for _ in range(5):
        killed_at = rig.run_and_signal(signal.SIGKILL)
        assert lost_tokens(rig, killed_at) == (set(), set())
        assert {o.result for o in rig.next_sweep()} <= {"refreshed"}
    assert stored_refresh_tokens(rig.ctx, rig.hubs) == before
    report("rotation off", rig, 5)
