"""Benchmark: the HubSpot proxy's overhead over a direct call to the same sandbox, measured in one run.

Starts the sandbox in-process (its burst and daily limits raised so that neither limits the run), installs
one portal, creates an API key, and starts the proxy's app alone under uvicorn in a subprocess
(bench/proxy_server.py, SQLite, in-memory limiter). Then, with ``--clients`` concurrent keep-alive callers
sending ``--rate`` requests per second in all (open loop) for ``--seconds``:

* ``direct``: ``GET /crm/v3/objects/contacts?limit=1`` to the sandbox with the portal's access token,
* ``proxy``: the same through ``/api/v1/portals/{hub}/proxy/crm/v3/objects/contacts?limit=1`` with the key,

and prints both p50/p95/p99 and the overhead (proxy p50 - direct p50; goal <= 2 ms at 50 callers). The two
run in alternating rounds (``--rounds``), so that a shared machine's load drifts over both alike; the load
average is printed before and after, and the proxy server's CPU per call (from /proc: what an idle machine
would see, whatever the load). ``--redis`` keeps the key's and the portal's limits in Redis, as replicas
share them in production (one round trip each per call, on the event loop). ``--profile FILE`` profiles the
server during the proxied rounds (bench/proxy_server.py: every thread sampled, or cProfile of the event loop
in CPU time when FILE ends in ``.pstats``).

    .venv/bin/python bench/proxy.py [--clients 50] [--seconds 10] [--rate 100] [--rounds 5] [--profile FILE]
                                    [--redis [URL]]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard import repository  # noqa: E402
from dashboard.admin import api_keys  # noqa: E402
from dashboard.context import build_context  # noqa: E402
from dashboard.sandbox import SandboxConfig, SandboxServer  # noqa: E402
from dashboard.sandbox.ratelimit import RateLimiter  # noqa: E402
from dashboard.security import vault  # noqa: E402
from dashboard.security.crypto import generate_key_entry  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from tests.e2e.conftest import free_port  # noqa: E402
from tests.utils.lifecycle import ADMIN, install_portal  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_token_api", ROOT / "bench" / "token_api.py")
assert _spec is not None
assert _spec.loader is not None
token_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(token_bench)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests per second, all clients")
    parser.add_argument("--rounds", type=int, default=5, help="alternating direct / proxied rounds")
    parser.add_argument("--profile", metavar="FILE", help="sample the proxy server's threads (bench/sampler.py)")
    parser.add_argument("--redis", metavar="URL", nargs="?", const="redis://127.0.0.1:6379/0",
                        help="the limits in Redis, as replicas share them (DASHBOARD_LOCK_URL)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp, \
            SandboxServer(SandboxConfig(port=0)).start() as sandbox:
        work = Path(tmp)
        entry = generate_key_entry("bench")
        db_url = f"sqlite:///{work / 'dashboard.db'}"
        ctx = build_context(load_settings({}, secrets_path=None, dashboard_database_url=db_url,
                                          dashboard_data_dir=work / "data", dashboard_encryption_keys=entry),
                            sandbox_url=sandbox.url)
        sandbox._state.rate_limiter = RateLimiter(limit=100_000)  # type: ignore[union-attr]  # bench only
        httpx.post(f"{sandbox.url}/_sandbox/config", json={"daily_limit": 10**9}).raise_for_status()
        hub = install_portal(ctx, sandbox.url).hub_id
        key = api_keys.create_key(ctx, actor=ADMIN, name="bench").key
        with ctx.session() as session:
            portal = repository.get_portal(session=session, hub_id=hub)
        assert portal is not None
        token = vault.open_tokens(ctx.cipher, portal).access_token
        port = free_port()
        env = {**os.environ, "DASHBOARD_ENCRYPTION_KEYS": entry, "DASHBOARD_DATABASE_URL": db_url,
               "DASHBOARD_DATA_DIR": str(work / "data"), "DASHBOARD_SANDBOX_URL": sandbox.url,
               "DASHBOARD_API_RATE_PER_MINUTE": "1000000",
               **({"DASHBOARD_LOCK_URL": args.redis, "DASHBOARD_LOCK_PREFIX": f"bench-proxy-{os.getpid()}"}
                  if args.redis else {})}
        server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "proxy_server.py"), str(port),
                                   *([args.profile] if args.profile else [])], env=env)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/api/v1/portals/{hub}/usage", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            path = "/crm/v3/objects/contacts?limit=1"
            host, sb_port = sandbox.url.removeprefix("http://").split(":")
            direct_target = (host, int(sb_port), path, token)
            proxy_target = ("127.0.0.1", port, f"/api/v1/portals/{hub}/proxy{path}", key)
            asyncio.run(token_bench.closed_loop(proxy_target, 10, 1.0))  # warm-up (learns the window)
            asyncio.run(token_bench.closed_loop(direct_target, 10, 1.0))
            load_before = os.getloadavg()
            direct, proxied, cpu = asyncio.run(rounds(direct_target, proxy_target, args, server))
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(timeout=10)
            ctx.close()
        d50, d95, d99 = quantiles(direct)
        p50, p95, p99 = quantiles(proxied)
        limits = "redis" if args.redis else "memory"
        print(f"proxy direct clients={args.clients} rate={args.rate:.0f} n={len(direct)} p50_ms={d50:.2f} "
              f"p95_ms={d95:.2f} p99_ms={d99:.2f}")
        print(f"proxy proxied clients={args.clients} rate={args.rate:.0f} limits={limits} n={len(proxied)} "
              f"p50_ms={p50:.2f} "
              f"p95_ms={p95:.2f} p99_ms={p99:.2f} server_cpu_us_per_call={cpu / len(proxied) * 1e6:.0f}")
        print(f"proxy overhead_p50_ms={p50 - d50:.2f} overhead_p95_ms={p95 - d95:.2f} "
              f"goal_2ms={'met' if p50 - d50 <= 2 else 'missed'} loadavg_1m_before={load_before[0]:.2f} "
              f"loadavg_1m_after={load_after[0]:.2f} cores={os.cpu_count()}")


async def rounds(direct_target: tuple[str, int, str, str], proxy_target: tuple[str, int, str, str],
                 args: argparse.Namespace, server: subprocess.Popen[bytes]) -> tuple[list[float], list[float], float]:
    """Alternating open-loop rounds over the same keep-alive connections (a new connection per round
    would put a TCP handshake into a quarter of the samples at the default rate)."""
    direct_clients = [token_bench.Client(*direct_target) for _ in range(args.clients)]
    proxy_clients = [token_bench.Client(*proxy_target) for _ in range(args.clients)]
    direct: list[float] = []
    proxied: list[float] = []
    cpu = 0.0
    span = args.seconds / args.rounds
    per_client = args.rate / args.clients

    async def one(client: Any, offset: float, latencies: list[float]) -> None:
        start = time.monotonic() + offset
        for i in range(max(1, int(span * per_client))):
            delay = start + i / per_client - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await token_bench.timed_get(client, latencies)

    async def phase(clients: list[Any], latencies: list[float]) -> None:
        await asyncio.gather(*(one(c, i / args.rate, latencies) for i, c in enumerate(clients)))

    warm: list[float] = []
    await phase(direct_clients, warm)  # connections opened, the window learned: not measured
    await phase(proxy_clients, warm)
    for _ in range(args.rounds):
        await phase(direct_clients, direct)
        if args.profile:
            server.send_signal(signal.SIGUSR1)
        cpu0 = token_bench.cpu_seconds(server.pid)
        await phase(proxy_clients, proxied)
        cpu += token_bench.cpu_seconds(server.pid) - cpu0
        if args.profile:
            server.send_signal(signal.SIGUSR2)
    for client in direct_clients + proxy_clients:
        await client.close()
    return direct, proxied, cpu


def quantiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    return at(0.5), at(0.95), at(0.99)


if __name__ == "__main__":
    main()
