"""Issue 22 item 1: a PostgreSQL table lock while refreshes are in flight, then SIGTERM.

Without ``lock_timeout`` / ``statement_timeout`` every store of a refreshed token waited on the lock for as
long as it was held: nothing reached the spill journal, SIGTERM was not honoured, and a SIGKILL after it lost
every refresh token HubSpot had rotated. Now a store that meets the lock fails after
``DASHBOARD_PG_LOCK_TIMEOUT_MS`` like any other database failure (retried while the lease lasts, then the
journal), and once SIGTERM arrives a refused store goes to the journal at once: the worker exits within 30 s
with every token on disk, and the next sweep after the lock stores them all (0 lost, strict rotation).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from dashboard import repository
from dashboard.context import build_context
from dashboard.refresh import journal
from dashboard.refresh import service as refresh
from dashboard.security import vault
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.utils.cli import cli_command, cli_env
from tests.utils.lifecycle import ADMIN, FAST_RETRY, control, sandbox_tokens
from tests.utils.seeding import seed_portals

PORTALS = 20
LATENCY_MS = 3000  # HubSpot's answers come back while the table is locked (1.5 s was too short on a loaded machine)
SHUTDOWN_S = 30  # what the worker promises after SIGTERM


@pytest.mark.postgres
@pytest.mark.slow
def test_a_locked_table_then_sigterm_journals_every_token_and_the_worker_exits(
    tmp_path: Path, sandbox: Any, postgres_url: str,
) -> None:
    url = sandbox.url
    env = {"DASHBOARD_DATABASE_URL": postgres_url, "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("pglock1"),
           "DASHBOARD_DATA_DIR": str(tmp_path / "data")}
    ctx = build_context(load_settings(env, secrets_path=None), sandbox_url=url, retry=FAST_RETRY)
    worker: subprocess.Popen[str] | None = None
    locker: psycopg.Connection[Any] | None = None
    try:
        assert ctx.settings.dashboard_pg_lock_timeout_ms == 5000  # the defaults are under test
        hubs = seed_portals(ctx, url, PORTALS)
        control(url, "config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0, "latency_ms": LATENCY_MS})
        worker = subprocess.Popen(cli_command("refresh", "--due", "--loop", "--interval", "1", "--concurrency",
                                              str(PORTALS)),
                                  env=cli_env(**env, DASHBOARD_SANDBOX_URL=url), cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Every portal claimed: their grants are at HubSpot for LATENCY_MS. Bounded by the worker's start-up.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with ctx.engine.connect() as conn:
                leased = conn.execute(text("select count(*) from portal where lease_owner is not null")).scalar()
            if leased == PORTALS:
                break
            time.sleep(0.02)
        assert leased == PORTALS, "the worker never claimed the portals"
        locker = psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://"))
        locker.execute("LOCK TABLE portal IN ACCESS EXCLUSIVE MODE")  # held until the worker has exited
        # The answers arrive, every store meets the lock and fails after lock_timeout; the retries go on
        # while the lease lasts (45 s). SIGTERM after the first lock timeouts: the stores go to the journal.
        time.sleep(LATENCY_MS / 1000 + 6)
        worker.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        try:
            out, err = worker.communicate(timeout=SHUTDOWN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit within {SHUTDOWN_S} s of SIGTERM while the table was locked")
        took = time.monotonic() - sent
        assert "Traceback" not in err
        journaled = journal.size(ctx)
        locker.rollback()
        locker.close()
        locker = None

        second = refresh.refresh_due(ctx, actor=ADMIN)  # replays the journal first
        assert journal.size(ctx) == 0
        live = {t["hub_id"]: t["token"] for t in sandbox_tokens(url) if t["kind"] == "refresh" and t["active"]}
        with ctx.session() as session:
            stored = {h: vault.open_tokens(ctx.cipher, p).refresh_token
                      for h in hubs if (p := repository.get_portal(session=session, hub_id=h)) is not None}
        lost = [h for h in hubs if stored[h] != live[h]]
        print(f"\npg lock + SIGTERM: exit={worker.returncode} after {took:.1f} s, journaled={journaled}, "
              f"lost={len(lost)}, second pass={sorted(o.result for o in second)}, last line={out.strip()[-200:]}")
        assert journaled == PORTALS
        assert lost == []
    finally:
        if locker is not None:
            locker.close()
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.communicate()
        control(url, "reset", {})
        ctx.close()
