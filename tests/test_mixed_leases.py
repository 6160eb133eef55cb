"""A rolling deploy: workers on Redis leases and workers on database leases, over one database.

Issue #10: the two lock systems did not see each other, so both kinds of worker refreshed some portals at the
same moment with the same refresh token; with strict rotation the loser got ``invalid_grant``, and 90 of 100
portals were marked ``needs_reauth``. Failure writes then applied only at the ``token_version`` the refresh
read, but issue 22 (item 6) still found, on PostgreSQL with 2 + 2 workers, portals refreshed twice and a
healthy portal marked needs_reauth for 39 ms (an alert). A Redis lease now also takes the row's lease, the
one lock both kinds see; and needs_reauth is written only while the row is still leased to the worker that
got ``invalid_grant``. Goal: every portal refreshed exactly once, no ``invalid_grant``, no needs_reauth row,
audit event or alert at any moment.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dashboard import repository
from dashboard.context import build_context
from dashboard.errors import InvalidGrantError
from dashboard.models import PortalStatus
from dashboard.refresh.store import Lease, record_failure
from dashboard.security import vault
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.utils.cli import cli_command, cli_env
from tests.utils.lifecycle import ADMIN, FAST_RETRY, control, sandbox_tokens, stats
from tests.utils.seeding import seed_portals

PORTALS = 100
LATENCY_MS = 1000  # a sweep lasts several seconds: the workers' start-ups (seconds on a loaded machine) overlap


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_redis_and_database_lease_workers_side_by_side_refresh_each_portal_once(
    tmp_path: Path, sandbox: Any, redis_url: str, redis_prefix: str, backend: str, request: pytest.FixtureRequest,
    alert_sink: tuple[str, list[bytes]],
) -> None:
    url = sandbox.url
    db_url = f"sqlite:///{tmp_path / 'dashboard.db'}" if backend == "sqlite" else \
        str(request.getfixturevalue("postgres_url"))
    per_kind = 1 if backend == "sqlite" else 2  # the PostgreSQL case: 2 Redis-lease + 2 database-lease
    alert_url, alerts = alert_sink
    env = {
        "DASHBOARD_DATABASE_URL": db_url,
        "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("mixed1"),
        "DASHBOARD_DATA_DIR": str(tmp_path / "data"),
        "DASHBOARD_ALERT_WEBHOOK_URL": alert_url,
    }
    ctx = build_context(load_settings(env, secrets_path=None), sandbox_url=url, retry=FAST_RETRY)
    watching = threading.Event()
    reauth_seen: list[int] = []

    def watch() -> None:  # needs_reauth at any moment, not only at the end
        while not watching.is_set():
            with ctx.engine.connect() as conn:
                reauth_seen.extend(conn.execute(text("select hub_id from portal where status = :s"),
                                                {"s": PortalStatus.NEEDS_REAUTH}).scalars())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    try:
        hubs = seed_portals(ctx, url, PORTALS)
        control(url, "config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0, "latency_ms": LATENCY_MS})
        redis_env = {"DASHBOARD_LOCK_URL": redis_url, "DASHBOARD_LOCK_PREFIX": redis_prefix}

        def start(name: str, extra: dict[str, str]) -> subprocess.Popen[str]:
            return subprocess.Popen(cli_command("--actor", name, "refresh", "--due", "--concurrency", "8"),
                                    env=cli_env(**env, **extra, DASHBOARD_SANDBOX_URL=url), cwd=tmp_path,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        watcher.start()
        # All at once: both kinds sweep the same due portals side by side (each waiting for the first grant
        # before starting the other kind left the second kind nothing to do on a loaded machine).
        workers = [start(f"redis-worker-{n}", redis_env) for n in range(per_kind)]
        workers += [start(f"db-worker-{n}", {}) for n in range(per_kind)]
        results = [w.communicate(timeout=120) for w in workers]
        watching.set()
        watcher.join()
        summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
        for _, err in results:
            assert "Traceback" not in err

        s = stats(url)
        live = {t["hub_id"]: t["token"] for t in sandbox_tokens(url) if t["kind"] == "refresh" and t["active"]}
        with ctx.session() as session:
            portals = {h: repository.get_portal(session=session, hub_id=h) for h in hubs}
            failures = [e for e in repository.list_audit_events(session=session, action="refresh", limit=10_000)
                        if e.outcome == "failure"]
        lost = [h for h, p in portals.items() if p is None or vault.open_tokens(ctx.cipher, p).refresh_token != live[h]]
        grants = s["token_requests"]["refresh_token"]
        print(f"\nmixed leases ({backend}, {per_kind}+{per_kind}): summaries={summaries} grants={grants} "
              f"invalid_grant={s['errors'].get('invalid_grant', 0)} needs_reauth_seen={len(set(reauth_seen))} "
              f"alerts={len(alerts)} lost={len(lost)}")
        assert lost == []
        assert grants == PORTALS, "a portal was refreshed twice"
        assert s["errors"].get("invalid_grant", 0) == 0
        assert reauth_seen == [] and failures == [] and alerts == []
        assert {p.status for p in portals.values() if p is not None} == {PortalStatus.ACTIVE}
        # Both kinds of worker really refreshed: the test exercised the mix.
        assert sum(summary.get("refreshed", 0) for summary in summaries[:per_kind]) > 0, summaries
        assert sum(summary.get("refreshed", 0) for summary in summaries[per_kind:]) > 0, summaries
    finally:
        watching.set()
        if watcher.is_alive():
            watcher.join()
        control(url, "reset", {})
        ctx.close()


def test_needs_reauth_is_not_published_once_another_worker_took_the_lease_over(ctx: Any, sandbox: Any) -> None:
    """A worker whose lease ran out (HubSpot was slow) gets invalid_grant after another worker took the lease
    over with the same token version: that worker's refresh may yet succeed, so no needs_reauth is written."""
    [hub] = seed_portals(ctx, sandbox.url, 1)
    assert ctx.leases.acquire(hub, "slow-worker", timedelta(milliseconds=1))
    time.sleep(0.01)
    assert ctx.leases.acquire(hub, "second-worker", timedelta(seconds=30))  # the first one's lease ran out
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hub)
    assert portal is not None
    outcome = record_failure(ctx, portal, Lease(hub, "slow-worker", in_row=True), ADMIN,
                             InvalidGrantError("the grant is no longer valid"), reauth=True)
    with ctx.session() as session:
        after = repository.get_portal(session=session, hub_id=hub)
    assert outcome.result == "conflict"
    assert after is not None and after.status == PortalStatus.ACTIVE and after.lease_owner == "second-worker"
    # The worker that holds the lease may publish it.
    outcome = record_failure(ctx, portal, Lease(hub, "second-worker", in_row=True), ADMIN,
                             InvalidGrantError("the grant is no longer valid"), reauth=True)
    assert outcome.result == "needs_reauth"
