"""The token API, /metrics and /readyz over HTTP against running ``streamlit run streamlit_app.py`` servers.

One sandbox and one SQLite file for the module. Keys are created with the CLI (as an admin would); portals
are installed by the test through the install service (the browser journey is tests/e2e/test_install_flow.py).
The API servers run without the embedded worker, so every refresh counted at the sandbox is the API's;
one more server runs with it, for the metrics and readiness checks. Ends with a leak scan of everything
the API, the servers' logs, the audit log and /metrics produced.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from prometheus_client.parser import text_string_to_metric_families

from dashboard import repository
from dashboard.admin import api_keys
from dashboard.context import AppContext, build_context
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.e2e.conftest import Server, free_port, start_dashboard
from tests.utils.cli import cli_env, run_cli
from tests.utils.lifecycle import ADMIN, add_accounts, install_portal, sandbox_tokens, stats
from tests.utils.sandbox_process import start_sandbox

pytestmark = pytest.mark.slow
KEY_ENTRY = generate_key_entry("api1")


@dataclass
class Setup:
    work: Path
    sandbox_url: str
    app_port: int
    ctx: AppContext
    api: str = ""  # the worker-less API server
    seen: list[str] = field(default_factory=list)  # every response body, for the leak scan
    servers: list[Server] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {"DASHBOARD_DATABASE_URL": f"sqlite:///{self.work / 'dashboard.db'}",
                "DASHBOARD_DATA_DIR": str(self.work / "data"), "DASHBOARD_ENCRYPTION_KEYS": KEY_ENTRY,
                "DASHBOARD_SANDBOX_URL": self.sandbox_url}

    def server(self, name: str, port: int | None = None, **settings: str) -> str:
        (self.work / name).mkdir()
        port = port or free_port()
        self.servers.append(start_dashboard(work=self.work / name, port=port, sandbox_url=self.sandbox_url,
                                            env=self.env() | settings))
        return f"http://127.0.0.1:{port}"

    def cli(self, *args: str) -> str:
        done = run_cli(*args, env=cli_env(**self.env()), cwd=self.work)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def create_key(self, *args: str) -> str:
        key = self.cli("api-keys", "create", *args).strip().splitlines()[-1]
        self.keys.append(key)
        return key

    def install(self, ttl: int = 1800) -> int:
        httpx.post(f"{self.sandbox_url}/_sandbox/config", json={"access_token_ttl": ttl}, timeout=5)
        [hub] = add_accounts(self.sandbox_url, 1)
        return install_portal(self.ctx, self.sandbox_url, account_id=hub).hub_id

    def get(self, base: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        resp = httpx.request(kw.pop("method", "GET"), f"{base}{path}", headers=headers, timeout=30,
                             trust_env=False, **kw)
        self.seen.append(resp.text)
        assert resp.headers.get("cache-control") == "no-store"
        return resp


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("token-api")
    port, app_port = free_port(), free_port()
    sandbox, sandbox_url = start_sandbox(port, f"http://localhost:{app_port}/install", work / "sandbox.log")
    settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{work / 'dashboard.db'}",
                             dashboard_data_dir=work / "data", dashboard_encryption_keys=KEY_ENTRY,
                             hubspot_redirect_uri=f"http://localhost:{app_port}/install")
    ctx = build_context(settings, sandbox_url=sandbox_url)
    s = Setup(work, sandbox_url, app_port, ctx)
    try:
        s.api = s.server("api", port=app_port, DASHBOARD_EMBEDDED_WORKER="false",
                         DASHBOARD_API_RATE_PER_MINUTE="100000")
        yield s
    finally:
        for server in s.servers:
            server.stop()
        ctx.close()
        sandbox.stop()


def test_keys_from_the_cli_list_portals_and_get_live_tokens(setup: Setup) -> None:
    hub = setup.install()
    key = setup.create_key("--name", "billing-sync")
    listed = setup.get(setup.api, "/api/v1/portals", key)
    assert listed.status_code == 200
    portal = next(p for p in listed.json()["portals"] if p["hub_id"] == hub)
    assert portal["status"] == "active" and "oauth" in portal["granted_scopes"] and "access_token" not in portal
    got = setup.get(setup.api, f"/api/v1/portals/{hub}/token", key)
    assert got.status_code == 200, got.text
    body = got.json()
    live = {t["token"] for t in sandbox_tokens(setup.sandbox_url, hub) if t["kind"] == "access" and t["active"]}
    assert body["access_token"] in live and 1700 < body["expires_in"] <= 1800
    assert "billing-sync" in setup.cli("api-keys", "list")  # name, prefix, created by, last used, expiry
    listing = setup.cli("api-keys", "list", "--json")
    assert '"last_used_at": "20' in listing and '"created_by": "cli:' in listing


def test_bad_keys_get_401(setup: Setup) -> None:
    hub = setup.install()
    key = setup.create_key("--name", "to-revoke")
    prefix = key.split("_")[1]
    assert setup.get(setup.api, "/api/v1/portals", key).status_code == 200
    cached_until = time.monotonic() + api_keys.KEY_CACHE_SECONDS  # the server cached the key before answering
    setup.cli("api-keys", "revoke", prefix)
    wrong = f"hsd_{prefix}_{'A' * 43}"
    expiring = api_keys.create_key(setup.ctx, actor=ADMIN, name="short-lived", expires_in=timedelta(seconds=1))
    setup.keys.append(expiring.key)
    # Revocation reaches a server within its key cache's time (the replica test bounds it); the expiring key
    # needs 1 s. Waiting for both makes every refusal below immediate (CI once revoked within 1.7 s of the use).
    time.sleep(max(1.1, cached_until - time.monotonic() + 0.1))
    for bad, says in [(None, "Bearer"), ("not-a-key", "hsd_"), (wrong, "unknown"), (key, "revoked"),
                      (expiring.key, "expired")]:
        for path in ("/api/v1/portals", f"/api/v1/portals/{hub}/token"):
            resp = setup.get(setup.api, path, bad)
            assert resp.status_code == 401 and resp.json()["error"] == "invalid_api_key", (bad, resp.text)
            assert says in resp.json()["message"] and resp.headers["www-authenticate"].startswith("Bearer")


def test_restricted_keys_reader_keys_and_unavailable_portals(setup: Setup) -> None:
    mine, other = setup.install(), setup.install()
    key = setup.create_key("--name", "one-portal", "--hub-id", str(mine))
    assert [p["hub_id"] for p in setup.get(setup.api, "/api/v1/portals", key).json()["portals"]] == [mine]
    assert setup.get(setup.api, f"/api/v1/portals/{mine}/token", key).status_code == 200
    for hub in (other, 424242):
        resp = setup.get(setup.api, f"/api/v1/portals/{hub}/token", key)
        assert resp.status_code == 404 and resp.json()["error"] == "not_found"
    assert setup.get(setup.api, f"/api/v1/portals/{mine}/refresh", key, method="POST").status_code == 403

    # The customer uninstalls the app: a forced refresh (operator key) finds the grant dead.
    operator = setup.create_key("--name", "ops", "--role", "operator")
    httpx.post(f"{setup.sandbox_url}/_sandbox/uninstall", json={"hub_id": other}, timeout=5).raise_for_status()
    for method, path in [("POST", "refresh"), ("GET", "token")]:
        resp = setup.get(setup.api, f"/api/v1/portals/{other}/{path}", operator, method=method)
        assert resp.status_code == 409 and resp.json()["error"] == "needs_reauth", resp.text
    setup.cli("revoke", "--hub-id", str(mine), "--local-only")
    resp = setup.get(setup.api, f"/api/v1/portals/{mine}/token", operator)
    assert resp.status_code == 409 and resp.json()["error"] == "revoked"


async def _burst(urls: list[str], key: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(timeout=60, limits=limits, trust_env=False) as client:
        headers = {"Authorization": f"Bearer {key}"}
        return await asyncio.gather(*(client.get(urls[i % len(urls)], headers=headers) for i in range(count)))


@pytest.mark.parametrize("processes", [1, 2])
def test_200_concurrent_requests_cause_one_refresh(setup: Setup, processes: int) -> None:
    hub = setup.install(ttl=120)  # inside the 300 s leeway: the first request must refresh
    httpx.post(f"{setup.sandbox_url}/_sandbox/config", json={"access_token_ttl": 1800}, timeout=5)
    key = setup.create_key("--name", f"burst-{processes}")
    bases = [setup.api] + ([setup.server("second", DASHBOARD_EMBEDDED_WORKER="false",
                                         DASHBOARD_API_RATE_PER_MINUTE="100000")] if processes == 2 else [])
    before = stats(setup.sandbox_url)["refresh_by_hub"].get(str(hub), 0)
    responses = asyncio.run(_burst([f"{b}/api/v1/portals/{hub}/token" for b in bases], key, 200))
    assert [r.status_code for r in responses] == [200] * 200, {r.text for r in responses if r.status_code != 200}
    assert stats(setup.sandbox_url)["refresh_by_hub"][str(hub)] - before == 1
    assert len({r.json()["access_token"] for r in responses}) == 1
    assert all(r.json()["expires_in"] > 1700 for r in responses)
    setup.seen.extend(r.text for r in responses)


def test_metrics_readiness_and_rate_limit(setup: Setup) -> None:
    # No worker has ever swept for this database: the worker-less server is not ready, and says why.
    resp = setup.get(setup.api, "/readyz")
    assert resp.status_code == 503 and resp.json()["failing"] == ["worker"], resp.text
    assert setup.get(setup.api, "/healthz").status_code == 200

    hub = setup.install(ttl=60)  # due at once (leeway 300 s)
    worker = setup.server("worker", DASHBOARD_WORKER_INTERVAL_SECONDS="1", DASHBOARD_API_RATE_PER_MINUTE="3")

    def refreshed() -> float:
        text = setup.get(worker, "/metrics").text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert {"dashboard_portals", "dashboard_token_api_requests", "dashboard_sweep_duration_seconds",
                "dashboard_worker_last_sweep_timestamp_seconds", "dashboard_spill_journal_bytes",
                "dashboard_earliest_expiry_seconds", "dashboard_refresh_duration_seconds"} <= set(families)
        return sum(s.value for s in families["dashboard_refreshes"].samples
                   if s.name == "dashboard_refreshes_total" and s.labels["outcome"] == "refreshed")

    deadline = time.monotonic() + 60
    while refreshed() < 1 or stats(setup.sandbox_url)["refresh_by_hub"].get(str(hub), 0) < 1:
        assert time.monotonic() < deadline, "the worker's refresh never showed in /metrics"
        time.sleep(0.5)
    for base in (worker, setup.api):  # both see the worker's heartbeat in the shared database
        ready = setup.get(base, "/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "keys": "ok",
                                                                        "worker": "ok", "tokens": "ok"}, ready.text
    key = setup.create_key("--name", "rate")
    codes = [setup.get(worker, "/api/v1/portals", key) for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    # A moving window of 60 s (limits): the next slot frees when the oldest of the three calls is 60 s old.
    assert 1 <= int(codes[-1].headers["retry-after"]) <= 60 and codes[-1].json()["error"] == "rate_limited"


def test_responses_match_the_openapi_document(setup: Setup) -> None:
    doc = setup.get(setup.api, "/api/v1/openapi.json").json()
    assert doc["openapi"] == "3.1.0"

    def check(path: str, method: str, resp: httpx.Response) -> None:
        declared = doc["paths"][path][method]["responses"]
        assert str(resp.status_code) in declared, (path, resp.status_code)
        schema = declared[str(resp.status_code)]["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": doc["components"]}).validate(resp.json())

    hub = setup.install()
    reader, operator = setup.create_key("--name", "contract"), setup.create_key("--name", "c-ops", "--role", "operator")
    check("/api/v1/portals", "get", setup.get(setup.api, "/api/v1/portals", reader))
    check("/api/v1/portals", "get", setup.get(setup.api, "/api/v1/portals", "nope"))
    token = "/api/v1/portals/{hub_id}/token"
    check(token, "get", setup.get(setup.api, f"/api/v1/portals/{hub}/token", reader))
    check(token, "get", setup.get(setup.api, "/api/v1/portals/999999/token", reader))
    refresh_path = "/api/v1/portals/{hub_id}/refresh"
    check(refresh_path, "post", setup.get(setup.api, f"/api/v1/portals/{hub}/refresh", reader, method="POST"))
    check(refresh_path, "post", setup.get(setup.api, f"/api/v1/portals/{hub}/refresh", operator, method="POST"))
    setup.cli("revoke", "--hub-id", str(hub), "--local-only")
    check(token, "get", setup.get(setup.api, f"/api/v1/portals/{hub}/token", reader))


def test_replicas_refuse_a_revoked_key_within_5_s_and_never_serve_a_stale_token(setup: Setup) -> None:
    """Keys are cached per process (2 s) and token rows never: two servers on one database."""
    hub = setup.install()
    replica = setup.server("replica", DASHBOARD_EMBEDDED_WORKER="false", DASHBOARD_API_RATE_PER_MINUTE="100000")
    key = setup.create_key("--name", "replicas", "--role", "operator")
    path = f"/api/v1/portals/{hub}/token"
    first = {setup.get(base, path, key).json()["access_token"] for base in (setup.api, replica)}
    assert len(first) == 1
    forced = setup.get(replica, f"/api/v1/portals/{hub}/refresh", key, method="POST")  # refreshed by one
    assert forced.status_code == 200 and forced.json()["result"] == "refreshed", forced.text
    live = {t["token"] for t in sandbox_tokens(setup.sandbox_url, hub) if t["kind"] == "access" and t["active"]}
    for _ in range(3):  # ... the other serves the new token at once, from the database
        served = setup.get(setup.api, path, key).json()["access_token"]
        assert served not in first and served in live

    setup.cli("api-keys", "revoke", key.split("_")[1])
    revoked_at, refused_after = time.monotonic(), {}
    while len(refused_after) < 2:
        for base in (setup.api, replica):
            if base not in refused_after and setup.get(base, path, key).status_code == 401:
                refused_after[base] = time.monotonic() - revoked_at
        assert time.monotonic() - revoked_at < 10, refused_after
        time.sleep(0.05)
    assert max(refused_after.values()) <= 5, refused_after


def test_after_sigkill_the_counted_reads_cover_every_answer_received(setup: Setup) -> None:
    """Each read is counted before it is answered: a killed server has counted at least the 200s sent."""
    hub = setup.install()
    key = setup.create_key("--name", "killed")
    base = setup.server("killed", DASHBOARD_EMBEDDED_WORKER="false", DASHBOARD_API_RATE_PER_MINUTE="100000")
    server = setup.servers[-1]
    received = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal received
        while True:
            try:
                resp = await http.get(f"{base}/api/v1/portals/{hub}/token", headers={"Authorization": f"Bearer {key}"})
            except httpx.HTTPError:
                return  # the server is gone
            assert resp.status_code == 200, resp.text
            received += 1

    async def run() -> None:
        limits = httpx.Limits(max_connections=30, max_keepalive_connections=30)
        async with httpx.AsyncClient(timeout=10, limits=limits, trust_env=False) as http:
            clients = [asyncio.create_task(client(http)) for _ in range(30)]
            while received < 300:
                await asyncio.sleep(0.01)
            server.process.kill()  # SIGKILL, mid-flight; by pid: the process this test started
            await asyncio.gather(*clients)

    asyncio.run(run())
    prefix = key.split("_")[1]
    with setup.ctx.session() as session:
        counted = sum(e.count for e in repository.list_audit_events(session=session, action="api.token", limit=10_000)
                      if e.detail == f"key {prefix}")
    assert counted >= received >= 300, (counted, received)


def test_no_token_or_key_leaks_into_responses_logs_audit_or_metrics(setup: Setup) -> None:
    """Makes its own tokens, keys and requests (it may run alone, or on another xdist worker than the rest of
    the module), then scans everything this module's server produced for every token and key."""
    hub = setup.install()
    key = setup.create_key("--name", "leak-scan", "--role", "operator")
    for method, path in [("GET", "/api/v1/portals"), ("GET", f"/api/v1/portals/{hub}/token"),
                         ("POST", f"/api/v1/portals/{hub}/refresh"), ("GET", "/api/v1/portals/999999/token")]:
        setup.get(setup.api, path, key, method=method)
    setup.get(setup.api, "/api/v1/portals", key[:-4] + "xxxx")  # a wrong key: its error must not echo it
    tokens = [t["token"] for t in sandbox_tokens(setup.sandbox_url)]
    assert tokens and setup.keys
    secrets = [*tokens, *setup.keys, *(k.split("_", 2)[2] for k in setup.keys), KEY_ENTRY.split(":", 1)[1]]
    # A token response carries its own portal's access token and nothing else; no other body any secret.
    def own_token(body: str) -> str | None:
        try:
            data = json.loads(body)
        except ValueError:
            return None
        return data.get("access_token") if isinstance(data, dict) else None

    others = [body for body in setup.seen if own_token(body) is None]
    for body in setup.seen:
        own = own_token(body)
        if own is not None:
            leaked = [s[:6] for s in secrets if s in body and s != own]
            assert not leaked, f"a token response carried another secret: {leaked}"
    metrics_texts = [setup.get(server.url.removesuffix("/_stcore/health"), "/metrics").text
                     for server in setup.servers if server.process.poll() is None]  # not the SIGKILLed one
    with setup.ctx.session() as session:
        audit = [f"{e.actor} {e.action} {e.outcome} {e.detail}"
                 for e in repository.list_audit_events(session=session, limit=100_000)]
    logs = [server.log.read_text(errors="replace") for server in setup.servers]
    for where, texts in [("responses", others), ("audit", audit), ("logs", logs), ("metrics", metrics_texts)]:
        for text in texts:
            found = [s[:6] for s in secrets if s in text]
            assert not found, f"secret material in {where}: {found}"
