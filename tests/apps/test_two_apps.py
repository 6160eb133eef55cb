"""Two apps in one dashboard (issue 27, "done when"): two sandboxes stand for two HubSpot apps with their own
client ids, secrets and hosts; the same account installed in both is two connections; one `refresh --due`
sweep refreshes each with its own app's credentials (each sandbox's stats say so); revoking, uninstalling or
refreshing one never touches the other. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboard import repository
from dashboard.cli.main import main
from dashboard.connections import service as connections
from dashboard.connections import uninstall
from dashboard.context import AppContext, build_context
from dashboard.models import PortalStatus
from dashboard.refresh import journal
from dashboard.refresh import service as refresh
from dashboard.sandbox import SandboxServer
from dashboard.settings import load_settings
from tests.apps.conftest import HUB, install_in
from tests.utils.lifecycle import ADMIN, stats
from tests.utils.seeding import make_due


def rows(ctx: AppContext) -> dict[str, dict[str, Any]]:
    found = {}
    for app_ctx in ctx.each_app():
        conns = connections.list_connections(app_ctx, actor=ADMIN)
        found[app_ctx.app_id] = {c.hub_id: c.status for c in conns}
    return found


def test_one_sweep_refreshes_each_app_with_its_own_credentials(ctx: AppContext, sandbox: SandboxServer,
                                                              staging: SandboxServer,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    install_in(ctx, "production", sandbox.url)
    install_in(ctx, "staging", staging.url)
    assert rows(ctx) == {"production": {HUB: "healthy"}, "staging": {HUB: "healthy"}}  # two connections
    for app_ctx in ctx.each_app():
        make_due(app_ctx, [HUB])
    capsys.readouterr()

    assert main(["refresh", "--due"]) == 0  # one sweep, every app
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["due"] == 2 and report["refreshed"] == 2
    assert report["apps"] == {"production": {"refreshed": 1}, "staging": {"refreshed": 1}}
    for server in (sandbox, staging):  # each app's host saw its own refresh, with its own client, no error
        seen = stats(server.url)
        assert seen["refresh_by_hub"] == {str(HUB): 1}
        assert seen["token_requests"] == {"authorization_code": 1, "refresh_token": 1}
        assert not seen["errors"]


def test_one_app_never_touches_the_other(ctx: AppContext, sandbox: SandboxServer, staging: SandboxServer) -> None:
    install_in(ctx, "production", sandbox.url)
    install_in(ctx, "staging", staging.url)
    prod, stage = ctx.for_app("production"), ctx.for_app("staging")

    # Leases are per (app, hub id): production's lease does not hold staging's row.
    assert prod.leases.acquire(HUB, "owner-a", refresh.lease_ttl(prod))
    assert stage.leases.acquire(HUB, "owner-b", refresh.lease_ttl(stage))
    prod.leases.release(HUB, "owner-a")
    stage.leases.release(HUB, "owner-b")

    out = refresh.refresh_portal(stage, HUB, actor=ADMIN, force=True)
    assert out.result == "refreshed"
    assert stats(sandbox.url)["token_requests"]["refresh_token"] == 0  # production's host never asked

    connections.revoke(prod, HUB, actor=ADMIN)
    assert rows(ctx) == {"production": {HUB: "revoked"}, "staging": {HUB: "healthy"}}
    assert stats(staging.url)["revoke"] == 0
    assert refresh.refresh_portal(stage, HUB, actor=ADMIN, force=True).result == "refreshed"

    uninstall.uninstall_from_account(stage, HUB, actor=ADMIN)
    assert stats(staging.url)["app_uninstalls"] == 1 and stats(sandbox.url)["app_uninstalls"] == 0
    with prod.session() as session:
        portal = repository.get_portal(session=session, hub_id=HUB)
        assert portal is not None and portal.status == PortalStatus.REVOKED  # production's row as it was


def test_spill_journal_entries_name_their_app(ctx: AppContext, sandbox: SandboxServer,
                                              staging: SandboxServer) -> None:
    install_in(ctx, "production", sandbox.url)
    install_in(ctx, "staging", staging.url)
    stage = ctx.for_app("staging")
    with stage.session() as session:
        row = repository.get_portal(session=session, hub_id=HUB)
        assert row is not None
    entry = journal.Entry(HUB, row.token_version, {"last_refresh_result": "from-journal"}, "worker:test", "d",
                          app="staging")
    assert json.loads(entry.to_line())["app"] == "staging"
    assert journal.append(stage, entry)
    assert journal.replay(ctx) == 1  # replayed by the default app's pass: stored in staging's row
    for app, expected in (("staging", "from-journal"), ("production", None)):
        with ctx.session(app=app) as session:
            portal = repository.get_portal(session=session, hub_id=HUB)
            assert portal is not None and portal.last_refresh_result == expected
    old_line = '{"hub_id":7,"base_version":1,"values":{},"actor":"a","audit_detail":"d"}'
    assert journal.Entry.from_line(old_line).app == "default"  # lines written before apps


def test_cli_app_option(env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--app", "nope", "connections"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: unknown app 'nope'; configured: production, staging"]
    assert not (tmp_path / "data").exists()  # refused before the database was opened
    assert main(["--app", "staging", "connections"]) == 0


def test_api_keys_restricted_to_an_app(ctx: AppContext, sandbox: SandboxServer, staging: SandboxServer,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`api-keys create --app NAME`: 403 on another app's portals; hub restrictions name their app."""
    from dashboard.admin import api_keys
    from dashboard.errors import NotFoundError, PermissionDeniedError, UnknownAppError
    from dashboard.tokens.service import TokenApi

    install_in(ctx, "production", sandbox.url)
    install_in(ctx, "staging", staging.url)
    assert main(["api-keys", "create", "--name", "staging-only", "--app", "staging"]) == 0
    out = capsys.readouterr()
    assert "app staging, every portal" in out.err
    key = api_keys.authenticate(ctx, f"Bearer {out.out.strip().splitlines()[-1]}")
    assert key.app == "staging"
    prod_api, staging_api = TokenApi(ctx), TokenApi(ctx.for_app("staging"))
    with pytest.raises(PermissionDeniedError, match="restricted to app staging, not production"):
        prod_api.access_token(key, HUB)
    assert staging_api.access_token(key, HUB).hub_id == HUB

    # A hub restriction names its app: production's portal HUB is not staging's portal HUB.
    limited = api_keys.create_key(ctx, actor=ADMIN, name="prod-hub", hub_ids=[HUB]).info
    assert limited.app is None and limited.portals == {("production", HUB)}
    assert prod_api.access_token(limited, HUB).hub_id == HUB
    with pytest.raises(NotFoundError):
        staging_api.access_token(limited, HUB)
    with pytest.raises(UnknownAppError):
        api_keys.create_key(ctx, actor=ADMIN, name="x", app="nope")
    assert main(["api-keys", "create", "--name", "x", "--app", "nope"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown app 'nope'; configured: production, staging"


def test_token_api_serves_each_app_on_its_path(ctx: AppContext, sandbox: SandboxServer,
                                              staging: SandboxServer) -> None:
    """/api/v1/apps/{app}/portals/{hub}/token: that app's token; the paths without an app: the default app's."""
    import asyncio

    from starlette.applications import Starlette

    from dashboard.admin import api_keys
    from dashboard.web.api import api_route, build_api
    from dashboard.web.runtime import set_shared_context

    install_in(ctx, "production", sandbox.url)
    install_in(ctx, "staging", staging.url)
    every = api_keys.create_key(ctx, actor=ADMIN, name="every-app").key
    prod_only = api_keys.create_key(ctx, actor=ADMIN, name="prod-only", app="production").key
    app = Starlette(routes=[api_route(build_api())])

    def get(path: str, key: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                return await client.get(path, headers={"Authorization": f"Bearer {key}"})
        return asyncio.run(go())

    set_shared_context(ctx)
    try:
        tokens = {}
        for path in (f"/api/v1/portals/{HUB}/token", f"/api/v1/apps/production/portals/{HUB}/token",
                     f"/api/v1/apps/staging/portals/{HUB}/token"):
            resp = get(path, every)
            assert resp.status_code == 200, resp.text
            tokens[path] = resp.json()["access_token"]
        assert len(set(tokens.values())) == 2  # the default path is production's portal; staging's is another
        assert tokens[f"/api/v1/portals/{HUB}/token"] == tokens[f"/api/v1/apps/production/portals/{HUB}/token"]
        staging_tokens = {t["token"] for t in httpx.get(f"{staging.url}/_sandbox/tokens", timeout=10).json()["tokens"]}
        assert tokens[f"/api/v1/apps/staging/portals/{HUB}/token"] in staging_tokens

        refused = get(f"/api/v1/apps/staging/portals/{HUB}/token", prod_only)
        assert refused.status_code == 403 and refused.json()["error"] == "permission_denied", refused.text
        unknown = get(f"/api/v1/apps/nope/portals/{HUB}/token", every)
        assert unknown.status_code == 404 and "unknown app 'nope'" in unknown.json()["message"]
        listed = get("/api/v1/apps/staging/portals", every)
        assert [p["hub_id"] for p in listed.json()["portals"]] == [HUB]
    finally:
        set_shared_context(None)


def test_an_app_removed_from_configuration_keeps_its_rows_read_only(
        ctx: AppContext, env: dict[str, str], sandbox: SandboxServer, staging: SandboxServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    install_in(ctx, "production", sandbox.url)
    install_in(ctx, "staging", staging.url)
    for app_ctx in ctx.each_app():
        make_due(app_ctx, [HUB])
    toml = Path(env["DASHBOARD_APPS_FILE"])
    toml.write_text(toml.read_text().split("[apps.staging]")[0])  # staging leaves the configuration
    capsys.readouterr()

    assert main(["apps"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split("\t")[:3] == ["staging", "NOT CONFIGURED", "1 connection(s)"]
    assert err.strip() == ("warning: app 'staging' is no longer configured: its 1 connection(s) are kept, read-only "
                           "and not refreshed; declare [apps.staging] again (its client id and secret) to manage them")
    assert main(["--app", "staging", "connections"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown app 'staging'; configured: production"
    assert main(["refresh", "--due"]) == 0
    assert stats(staging.url)["token_requests"]["refresh_token"] == 0  # nothing refreshes it
    assert stats(sandbox.url)["token_requests"]["refresh_token"] == 1
    with ctx.session(app="staging") as session:
        portal = repository.get_portal(session=session, hub_id=HUB)
        assert portal is not None and portal.status == PortalStatus.ACTIVE  # kept as it was


def test_metrics_and_alerts_name_the_app(ctx: AppContext, env: dict[str, str], sandbox: SandboxServer,
                                         staging: SandboxServer, alert_sink: tuple[str, list[bytes]]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from dashboard.ops import metrics
    from dashboard.webhooks import alerts

    install_in(ctx, "production", sandbox.url)
    install_in(ctx, "staging", staging.url)
    connections.revoke(ctx.for_app("staging"), HUB, actor=ADMIN)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(metrics.render(ctx).decode()) for s in f.samples}
    assert samples[("dashboard_portals", (("app", "production"), ("status", "active")))] == 1
    assert samples[("dashboard_portals", (("app", "staging"), ("status", "revoked")))] == 1
    assert samples[("dashboard_portals", (("app", "staging"), ("status", "active")))] == 0
    assert ("dashboard_hubspot_degraded", (("app", "staging"),)) in samples

    url, received = alert_sink
    with_alerts = build_context(load_settings({**env, "DASHBOARD_ALERT_WEBHOOK_URL": url}, secrets_path=None))
    try:
        assert alerts.send_alert(with_alerts.for_app("staging"), event="needs_reauth", hub_id=HUB,
                                 hub_domain="acme.example.com", status="needs_reauth", detail="invalid_grant")
        assert alerts.send_app_alert(with_alerts, event="configuration", detail="invalid_client")
    finally:
        with_alerts.close()
    first, second = (json.loads(body) for body in received)
    assert first["app"] == "staging" and first["text"].startswith("[staging] ")
    assert second["app"] == "production" and second["text"].startswith("[production] ")
