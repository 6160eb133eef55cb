"""One worker pass over several apps, for random populations (hypothesis): each app's due portals are refreshed
once, with that app's credentials at that app's host, and nothing else is asked of either host (the bound:
a pass makes at most one refresh request per portal due at its start, app by app)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.context import build_context
from dashboard.refresh.worker import RefreshWorker
from dashboard.sandbox import SandboxServer
from dashboard.settings import load_settings
from tests.utils.lifecycle import FAST_RETRY, stats
from tests.utils.seeding import make_due, seed_portals


@pytest.fixture
def any_db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'unused.db'}"  # each example makes its own file; PostgreSQL: test_two_apps


POPULATION = st.tuples(st.lists(st.booleans(), max_size=6), st.lists(st.booleans(), max_size=6))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(population=POPULATION)
def test_one_pass_refreshes_each_apps_due_portals_at_its_host(
        population: tuple[list[bool], list[bool]], env: dict[str, str], tmp_path: Path,
        sandbox: SandboxServer, staging: SandboxServer) -> None:
    servers = {"production": sandbox, "staging": staging}
    for server in servers.values():
        httpx.post(f"{server.url}/_sandbox/reset", timeout=5).raise_for_status()
    values = {**env, "DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / (uuid.uuid4().hex + '.db')}"}
    ctx = build_context(load_settings(values, secrets_path=None), retry=FAST_RETRY)
    try:
        due: dict[str, set[int]] = {}
        for (app, server), flags in zip(servers.items(), population, strict=True):
            hubs = seed_portals(ctx.for_app(app), server.url, len(flags), due=False) if flags else []
            due[app] = {h for h, d in zip(hubs, flags, strict=True) if d}
            make_due(ctx.for_app(app), sorted(due[app]))
        result = RefreshWorker(ctx, kind="cli", interval=60).run_pass()
        assert result.error is None
        assert sorted((o.app, o.hub_id) for o in result.outcomes) == sorted((a, h) for a, hs in due.items() for h in hs)
        assert all(o.result == "refreshed" for o in result.outcomes)
        for app, server in servers.items():
            seen = stats(server.url)
            assert seen["refresh_by_hub"] == {str(h): 1 for h in sorted(due[app])}
            assert not seen["errors"]
    finally:
        ctx.close()
