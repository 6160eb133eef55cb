"""Benchmark: one refresh sweep of N due portals against a HubSpot that answers in L ms.

Starts the sandbox in a subprocess (its own interpreter, like a real HubSpot: it does not share this
process's GIL), seeds N connected portals in a temporary SQLite file through ``install.import_tokens``
(tests/seeding.py), makes them all due, sets the sandbox's latency to L ms and its refresh-token rotation
on, then times ``refresh_due(ctx, concurrency=C)``: lease, refresh grant, encrypted store, audit event.

* ``floor_s`` = ceil(N / C) x L: what C parallel requests of L ms each cannot beat.
* ``sequential_sdk``: the same grants one portal after another with HubSpot's official
  ``hubspot-api-client`` (``tokens_api.create(grant_type="refresh_token")``), HTTP only, nothing stored.
  It times a sample of ``--sdk-sample`` portals (default 100) and scales to N, and says so.

* ``--processes P`` (default: one per core, as a deployment runs one worker per core or replica): P worker
  processes on the same database sweep together, each with ceil(C / P) refreshes in flight, started at the
  same moment; ``wall_s`` runs from that moment to the last one's end. With P = 1 the sweep runs in this
  process.
* CPU: the workers' (``sweep_cpu_ms_per_refresh``) and the sandbox's own (``sandbox_cpu_ms_per_refresh``),
  from /proc, so a floor the machine's cores could not reach shows as such: the sandbox shares the cores.

The last line is ``refresh_sweep N=... C=... L_ms=... processes=... wall_s=... floor_s=... ratio_to_floor=...
speedup_vs_sequential_sdk=... sweep_cpu_ms_per_refresh=... sandbox_cpu_ms_per_refresh=...``. Goals:
ratio_to_floor <= 1.5, speedup >= 30.

    .venv/bin/python bench/refresh_sweep.py [--portals 1000] [--latency-ms 100] [--concurrency 50] [--processes P]
        [--runs N]   # N runs, then ``refresh_sweep median ... goal=met|missed``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.runs import repeat  # noqa: E402
from bench.token_api import cpu_seconds  # noqa: E402
from dashboard import repository  # noqa: E402
from dashboard.actors import OPERATOR, Actor  # noqa: E402
from dashboard.context import build_context  # noqa: E402
from dashboard.refresh import service as refresh  # noqa: E402
from dashboard.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET  # noqa: E402
from dashboard.security import vault  # noqa: E402
from dashboard.security.crypto import generate_key_entry  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from tests.utils.seeding import seed_portals  # noqa: E402

BENCH = Actor("bench:refresh-sweep", OPERATOR)  # the sweep as a worker would run it


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    """``python -m dashboard sandbox --port 0`` in a subprocess; returns it and its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DASHBOARD_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "sandbox", "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if "running at " not in first:
        proc.kill()
        raise SystemExit(f"the sandbox did not start: {first!r}")
    return proc, first.rsplit("running at ", 1)[1].strip()


def sequential_sdk(url: str, refresh_tokens: list[str]) -> float:
    """Seconds for one refresh grant after another through the official SDK."""
    from hubspot import HubSpot

    client = HubSpot(host=url)
    start = time.perf_counter()
    for token in refresh_tokens:
        client.oauth.tokens_api.create(grant_type="refresh_token", refresh_token=token,
                                       client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET)
    return time.perf_counter() - start


def _settings(db_url: str, data_dir: str, key_entry: str):  # type: ignore[no-untyped-def]
    return load_settings({}, secrets_path=None, dashboard_database_url=db_url, dashboard_data_dir=Path(data_dir),
                         dashboard_encryption_keys=key_entry)


def child() -> int:
    """``--child``: one worker process. Its settings come on stdin (the key never on a command line); it says
    ``ready``, sweeps on ``go``, and prints its outcomes and CPU as JSON."""
    job = json.loads(sys.stdin.readline())
    ctx = build_context(_settings(job["db_url"], job["data_dir"], job["key_entry"]), sandbox_url=job["url"])
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        cpu0 = cpu_seconds(os.getpid())
        outcomes = refresh.refresh_due(ctx, within=timedelta(minutes=5), concurrency=job["concurrency"],
                                       actor=BENCH)
        print(json.dumps({"results": Counter(o.result for o in outcomes), "cpu_s": cpu_seconds(os.getpid()) - cpu0}),
              flush=True)
    finally:
        ctx.close()
    return 0


def sweep_in_processes(job: dict[str, object], processes: int) -> tuple[float, Counter[str], float]:
    """Wall seconds from ``go`` to the last worker's end, their outcomes, their CPU seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, __file__, "--child"], cwd=ROOT, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(processes)]
    try:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit("a worker process did not start")
        t0 = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            assert proc.stdout is not None
            reports.append(json.loads(proc.stdout.readline()))
        wall = time.perf_counter() - t0
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    results: Counter[str] = Counter()
    for report in reports:
        results.update(report["results"])
    return wall, results, sum(r["cpu_s"] for r in reports)


def medians(runs: int) -> int:
    """``--runs N``: N whole runs in turn (each seeds its own database), each printed, then the median line."""
    found = repeat(__file__, runs, "refresh_sweep ")
    ratios = sorted(r["ratio_to_floor"] for r in found)
    ratio = statistics.median(ratios)
    print(f"refresh_sweep median runs={runs} ratio_to_floor={ratio:.2f} ratios={','.join(f'{x:.2f}' for x in ratios)} "
          f"sweep_cpu_ms_per_refresh={statistics.median(r['sweep_cpu_ms_per_refresh'] for r in found):.2f} "
          f"sandbox_cpu_ms_per_refresh={statistics.median(r['sandbox_cpu_ms_per_refresh'] for r in found):.2f} "
          f"speedup_vs_sequential_sdk={statistics.median(r['speedup_vs_sequential_sdk'] for r in found):.1f} "
          f"goal={'met' if ratio <= 1.5 else 'missed'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--portals", type=int, default=1000)
    p.add_argument("--latency-ms", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="worker processes sweeping together (default: one per core)")
    p.add_argument("--sdk-sample", type=int, default=100, help="portals the sequential SDK run times")
    p.add_argument("--runs", type=int, default=1, help="run the bench this many times and print the median")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child()
    if args.runs > 1:
        return medians(args.runs)
    n, latency, conc, processes = args.portals, args.latency_ms, args.concurrency, max(1, args.processes)

    sandbox, url = start_sandbox()
    try:
        with tempfile.TemporaryDirectory(prefix="refresh-sweep-") as tmp, \
                httpx.Client(base_url=url, timeout=30) as http:
            key_entry = generate_key_entry("b1")
            settings = _settings(f"sqlite:///{tmp}/bench.db", tmp, key_entry)
            ctx = build_context(settings, sandbox_url=url)
            try:
                t0 = time.perf_counter()
                hubs = seed_portals(ctx, url, n)
                print(f"seeded {n} due portals in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
                http.post("/_sandbox/config", json={"latency_ms": latency, "rotate_refresh_tokens": True}
                          ).raise_for_status()
                before = http.get("/_sandbox/stats").json()["token_requests"]["refresh_token"]

                sandbox_cpu0 = cpu_seconds(sandbox.pid)
                results: Counter[str]
                if processes == 1:
                    cpu0, t0 = cpu_seconds(os.getpid()), time.perf_counter()
                    outcomes = refresh.refresh_due(ctx, within=timedelta(minutes=5), concurrency=conc, actor=BENCH)
                    wall, sweep_cpu = time.perf_counter() - t0, cpu_seconds(os.getpid()) - cpu0
                    results = Counter(str(o.result) for o in outcomes)
                else:
                    job = {"db_url": settings.dashboard_database_url, "data_dir": tmp, "key_entry": key_entry,
                           "url": url, "concurrency": math.ceil(conc / processes)}
                    wall, results, sweep_cpu = sweep_in_processes(job, processes)
                sandbox_cpu = cpu_seconds(sandbox.pid) - sandbox_cpu0
                grants = http.get("/_sandbox/stats").json()["token_requests"]["refresh_token"] - before
                print(f"sweep: {dict(results)}; {grants} refresh grants at the sandbox", file=sys.stderr)
                if results != Counter({"refreshed": n}) or grants != n:
                    print("error: the sweep did not refresh every portal exactly once", file=sys.stderr)
                    return 1

                sample = hubs[: min(args.sdk_sample, n)]
                with ctx.session() as session:
                    tokens = [vault.open_tokens(ctx.cipher, portal).refresh_token for portal in
                              (repository.get_portal(session=session, hub_id=h) for h in sample) if portal]
            finally:
                ctx.close()
            sdk_sample_s = sequential_sdk(url, tokens)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)

    sdk_s = sdk_sample_s * n / len(tokens)
    floor = math.ceil(n / conc) * latency / 1000
    print(f"sequential SDK: {len(tokens)} grants in {sdk_sample_s:.2f} s, scaled to N={n}: {sdk_s:.1f} s",
          file=sys.stderr)
    print(f"refresh_sweep N={n} C={conc} L_ms={latency} processes={processes} wall_s={wall:.2f} floor_s={floor:.2f} "
          f"ratio_to_floor={wall / floor:.2f} speedup_vs_sequential_sdk={sdk_s / wall:.1f} "
          f"sweep_cpu_ms_per_refresh={sweep_cpu / n * 1000:.2f} "
          f"sandbox_cpu_ms_per_refresh={sandbox_cpu / n * 1000:.2f} "
          f"loadavg_1m={os.getloadavg()[0]:.1f} cores={os.cpu_count()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
