"""Token API reads: every read counted (one audit row per key, portal and minute), and reads never multiply
refreshes (single flight in a process, the lease across processes, a portal refreshed < 60 s ago served as is).

On SQLite and PostgreSQL. Over HTTP (two servers, SIGKILL): tests/test_token_api_http.py.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dashboard import repository
from dashboard.admin import api_keys
from dashboard.cli.main import main
from dashboard.context import AppContext, build_context
from dashboard.sandbox import SandboxServer
from dashboard.tokens.service import TokenApi
from tests.utils.lifecycle import ADMIN, FAST_RETRY, add_accounts, install_portal, sandbox_post, stats


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


def _key(ctx: AppContext, name: str = "svc") -> api_keys.ApiKeyInfo:
    return api_keys.authenticate(ctx, f"Bearer {api_keys.create_key(ctx, actor=ADMIN, name=name).key}")


def _counted(ctx: AppContext, action: str = "api.token") -> list[tuple[int | None, str, int]]:
    with ctx.session() as session:
        return [(e.hub_id, e.detail, e.count) for e in repository.list_audit_events(session=session, action=action)]


def test_every_read_is_counted_per_key_portal_and_minute(ctx: AppContext, sandbox: SandboxServer,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    hub, other = (install_portal(ctx, sandbox.url, account_id=a).hub_id for a in add_accounts(sandbox.url, 2))
    one, two = _key(ctx, "one"), _key(ctx, "two")
    api = TokenApi(ctx)
    for _ in range(7):
        api.access_token(one, hub)
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda i: api.access_token(two if i % 2 else one, other), range(60)))

    async def over_the_event_loop() -> None:
        await asyncio.gather(*(api.access_token_async(two, hub) for _ in range(50)))

    asyncio.run(over_the_event_loop())
    api.list_portals(one)
    rows = _counted(ctx)
    totals: dict[tuple[int | None, str], int] = {}
    for hub_id, detail, count in rows:
        totals[(hub_id, detail)] = totals.get((hub_id, detail), 0) + count
    assert totals == {(hub, f"key {one.prefix}"): 7, (other, f"key {one.prefix}"): 30,
                      (other, f"key {two.prefix}"): 30, (hub, f"key {two.prefix}"): 50}
    assert len(rows) <= 2 * len(totals)  # one row per key, portal and minute (a minute may turn mid-test)
    assert sum(c for _, _, c in _counted(ctx, "api.portals")) == 1

    # The CLI in this process reads the test's settings: its data directory too (else it writes a sandbox key
    # into the checkout's data/), and the test's sandbox (else it looks for one on the default port).
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", str(ctx.engine.url.render_as_string(hide_password=False)))
    keys = ctx.settings.dashboard_encryption_keys
    assert keys is not None
    monkeypatch.setenv("DASHBOARD_ENCRYPTION_KEYS", keys.get_secret_value())
    monkeypatch.setenv("DASHBOARD_DATA_DIR", str(ctx.settings.dashboard_data_dir))
    monkeypatch.setenv("DASHBOARD_SANDBOX_URL", sandbox.url)
    assert main(["audit", "--json", "--action", "api.token"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sum(e["count"] for e in listed) == 117 and all(e["outcome"] == "success" for e in listed)


def test_refused_reads_are_not_counted(ctx: AppContext, sandbox: SandboxServer) -> None:
    hub = install_portal(ctx, sandbox.url).hub_id
    restricted = api_keys.authenticate(ctx, "Bearer " + api_keys.create_key(
        ctx, actor=ADMIN, name="one-portal", hub_ids=[hub + 1]).key)
    api = TokenApi(ctx)
    for hub_id in (hub, hub + 1, 424242):
        with pytest.raises(Exception, match="no portal"):
            api.access_token(restricted, hub_id)
    assert _counted(ctx) == []


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
def test_reads_with_a_leeway_above_the_lifetime_cause_at_most_one_grant(
        settings_factory: Any, sandbox: SandboxServer, concurrent: bool) -> None:
    """Issue: with DASHBOARD_REFRESH_LEEWAY_SECONDS at or above the token's lifetime every read refreshed
    (20 sequential reads: 20 grants; 20 concurrent: 6-8)."""
    settings = settings_factory(dashboard_refresh_leeway_seconds=3600)
    ctx = build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        sandbox_post(sandbox, "/_sandbox/config", {"access_token_ttl": 1800, "latency_ms": 50})
        hub = install_portal(ctx, sandbox.url).hub_id
        key = _key(ctx)
        before = stats(sandbox.url)["refresh_by_hub"].get(str(hub), 0)
        api = TokenApi(ctx)
        if concurrent:
            with ThreadPoolExecutor(max_workers=20) as pool:
                tokens = list(pool.map(lambda _: api.access_token(key, hub).access_token, range(20)))
        else:
            tokens = [api.access_token(key, hub).access_token for _ in range(20)]
        assert len(set(tokens)) == 1
        assert stats(sandbox.url)["refresh_by_hub"].get(str(hub), 0) - before <= 1
        # A second process (another context, its own TokenApi) serves the row as it is, too.
        other = build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)
        try:
            assert TokenApi(other).access_token(key, hub).access_token == tokens[0]
        finally:
            other.close()
        assert stats(sandbox.url)["refresh_by_hub"].get(str(hub), 0) - before <= 1
    finally:
        sandbox_post(sandbox, "/_sandbox/config", {"latency_ms": 0})
        ctx.close()


def test_a_batch_that_cannot_commit_serves_nothing(ctx: AppContext, sandbox: SandboxServer) -> None:
    """Nothing is answered that was not counted: a failed commit is every read's error (HTTP 503)."""
    hub = install_portal(ctx, sandbox.url).hub_id
    key = _key(ctx)
    api = TokenApi(ctx)
    api.access_token(key, hub)
    with ctx.engine.begin() as conn:  # the audit table is gone: the count cannot be written
        conn.exec_driver_sql("ALTER TABLE audit_event RENAME TO audit_event_away")
    try:
        with pytest.raises(Exception) as caught:
            api.access_token(key, hub)
        assert caught.value.__class__.__name__ == "StorageError"
    finally:
        with ctx.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_event_away RENAME TO audit_event")
    assert api.access_token(key, hub).hub_id == hub
