"""Issue #4: four refresh worker processes at once, rotating refresh tokens, 200 due portals.

Each backend is a real one: SQLite with database leases, SQLite with Redis leases (``DASHBOARD_LOCK_URL``, a
key prefix of its own), and PostgreSQL (a fresh database). The four ``python -m dashboard refresh --due``
processes start together while the sandbox answers in 40 ms, so their sweeps overlap. With rotation on, a
portal refreshed twice would surface as ``invalid_grant`` and a lost answer as a dead stored token.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dashboard import repository
from dashboard.context import build_context
from dashboard.models import PortalStatus, utcnow
from dashboard.security import vault
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.utils.cli import cli_command, cli_env
from tests.utils.lifecycle import FAST_RETRY, control, sandbox_tokens, stats
from tests.utils.seeding import seed_portals

WORKERS = 4
PORTALS = 200
LATENCY_MS = 40


@pytest.fixture
def rotating_sandbox(sandbox: Any) -> Any:
    control(sandbox.url, "config", {"rotate_refresh_tokens": True})
    yield sandbox
    control(sandbox.url, "reset", {})  # no latency left behind for the next test


@pytest.mark.parametrize("backend", [
    "sqlite",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("postgres", marks=pytest.mark.postgres),
])
def test_four_workers_refresh_every_due_portal_exactly_once(backend: str, request: pytest.FixtureRequest,
                                                            tmp_path: Path, rotating_sandbox: Any) -> None:
    url = rotating_sandbox.url
    env = {
        "DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'dashboard.db'}",
        "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("conc1"),
        "DASHBOARD_DATA_DIR": str(tmp_path / "data"),
    }
    if backend == "postgres":
        env["DASHBOARD_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    if backend == "redis":
        env["DASHBOARD_LOCK_URL"] = request.getfixturevalue("redis_url")
        env["DASHBOARD_LOCK_PREFIX"] = request.getfixturevalue("redis_prefix")
    ctx = build_context(load_settings(env, secrets_path=None), sandbox_url=url, retry=FAST_RETRY)
    try:
        assert ctx.leases.name == ("redis" if backend == "redis" else "database")
        hubs = seed_portals(ctx, url, PORTALS)
        control(url, "config", {"latency_ms": LATENCY_MS})
        before = stats(url)
        assert before["token_requests"]["refresh_token"] == 0

        worker_env = cli_env(**env, DASHBOARD_SANDBOX_URL=url)
        workers = [subprocess.Popen(cli_command("--actor", f"worker-{i}", "refresh", "--due", "--concurrency", "8"),
                                    env=worker_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True) for i in range(WORKERS)]
        results = [w.communicate(timeout=120) for w in workers]
        for worker, (_, err) in zip(workers, results, strict=True):
            assert worker.returncode == 0, err
        summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]

        after = stats(url)
        assert after["token_requests"]["refresh_token"] == PORTALS
        assert after["refresh_by_hub"] == {str(h): 1 for h in hubs}
        assert after["errors"].get("invalid_grant", 0) == 0
        assert sum(s.get("refreshed", 0) for s in summaries) == PORTALS
        # They really ran side by side: more than one worker refreshed portals.
        assert sum(1 for s in summaries if s.get("refreshed")) >= 2, summaries

        live = {t["hub_id"]: t["token"] for t in sandbox_tokens(url) if t["kind"] == "refresh" and t["active"]}
        now = utcnow()
        with ctx.session() as session:
            for hub in hubs:
                portal = repository.get_portal(session=session, hub_id=hub)
                assert portal is not None and portal.status == PortalStatus.ACTIVE
                assert portal.expires_at is not None and portal.expires_at > now
                assert portal.lease_owner is None
                assert vault.open_tokens(ctx.cipher, portal).refresh_token == live[hub]
            events = repository.list_audit_events(session=session, action="refresh", limit=1000)
        assert len(events) == PORTALS and {e.outcome for e in events} == {"success"}
        print(f"\n{backend}: refreshed per worker {[s.get('refreshed', 0) for s in summaries]}")
    finally:
        ctx.close()
