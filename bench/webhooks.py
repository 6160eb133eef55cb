"""Benchmark: a burst of N lifecycle webhooks (N portals needing re-auth at once) to a healthy local receiver.

Starts the sandbox and a receiver (a small HTTP server answering 200) in subprocesses of their own, seeds N
connected portals in a temporary SQLite file, uninstalls the app from every account at the sandbox (so each
refresh ends in ``invalid_grant``), then times sweeps of the N due portals, alternating:

* ``A``: no webhook endpoint (nothing is enqueued: the sweep as before this feature);
* ``B``: one endpoint taking every event, and the delivery thread the workers run (dashboard/webhooks/runner.py)
  delivering while the sweep runs: each failure's write also inserts its event and delivery (the outbox).

Each sweep is a pass of the refresh worker (``RefreshWorker.run_pass``: what the embedded worker and
``refresh --due --loop`` run), with its delivery thread started as the worker starts it.

Between sweeps the portals are set back to refreshable. ``sweep_ratio`` = median B / median A (goal <= 1.10).
``delivered_s``: from the start of the last B sweep until the receiver holds all N events of that sweep
(goal <= 30 s on 2 cores). The last line is ``webhooks N=... sweep_a_s=... sweep_b_s=... sweep_ratio=...
delivered_s=... received=...``.

    .venv/bin/python bench/webhooks.py [--portals 1000] [--latency-ms 100] [--concurrency 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from refresh_sweep import BENCH, start_sandbox  # noqa: E402

from dashboard import repository  # noqa: E402
from dashboard.context import AppContext, build_context  # noqa: E402
from dashboard.models import PortalStatus  # noqa: E402
from dashboard.refresh.worker import RefreshWorker  # noqa: E402
from dashboard.security.crypto import generate_key_entry  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from dashboard.webhooks import endpoints  # noqa: E402
from dashboard.webhooks.runner import DeliveryLoop  # noqa: E402
from tests.utils.lifecycle import ADMIN  # noqa: E402
from tests.utils.seeding import make_due, seed_portals  # noqa: E402

RECEIVER = """
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            count += 1
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def do_GET(self):
        body = str(count).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}/hooks"


def rearm(ctx: AppContext, hubs: list[int]) -> None:
    """Every portal refreshable again (as if re-consented), and due."""
    with ctx.session() as session:
        for hub in hubs:
            repository.update_portal(session=session, hub_id=hub, values={
                "status": PortalStatus.ACTIVE, "consecutive_failures": 0, "last_refresh_result": None,
                "next_attempt_at": None, "last_error": None})
        session.commit()
    make_due(ctx, hubs)


def sweep(worker: RefreshWorker, n: int) -> float:
    t0 = time.perf_counter()
    outcomes = worker.run_pass().outcomes
    wall = time.perf_counter() - t0
    results = Counter(o.result for o in outcomes)
    if results != Counter({"needs_reauth": n}):
        raise SystemExit(f"error: the sweep did not end every portal in needs_reauth: {dict(results)}")
    return wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--portals", type=int, default=1000)
    p.add_argument("--latency-ms", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--deliver-after", action="store_true",
                   help="start the delivery thread only after B's sweep (the outbox's own cost, alone)")
    args = p.parse_args(argv)
    n, conc = args.portals, args.concurrency
    sandbox, url = start_sandbox()
    receiver, hook_url = start_receiver()
    a_times: list[float] = []
    b_times: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="webhooks-bench-") as tmp, \
                httpx.Client(base_url=url, timeout=30) as http:
            settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{tmp}/bench.db",
                                     dashboard_data_dir=Path(tmp), dashboard_encryption_keys=generate_key_entry("b1"),
                                     dashboard_webhook_allow_private=True)
            ctx = build_context(settings, sandbox_url=url)
            try:
                hubs = seed_portals(ctx, url, n)
                for hub in hubs:
                    http.post("/_sandbox/uninstall", json={"hub_id": hub}).raise_for_status()
                http.post("/_sandbox/config", json={"latency_ms": args.latency_ms}).raise_for_status()
                endpoint = None
                delivered = 0.0
                worker = RefreshWorker(ctx, kind="bench", interval=60, concurrency=conc,
                                       within=timedelta(minutes=5))
                worker.actor = BENCH
                for _ in range(args.rounds):
                    rearm(ctx, hubs)
                    if endpoint is not None:
                        endpoints.remove_endpoint(ctx, actor=ADMIN, endpoint_id=endpoint)
                    a_times.append(sweep(worker, n))
                    rearm(ctx, hubs)
                    endpoint = endpoints.add_endpoint(ctx, actor=ADMIN, url=hook_url).endpoint.id
                    before = int(httpx.get(hook_url, timeout=10).text)
                    stop = threading.Event()
                    loop = None if args.deliver_after else DeliveryLoop(ctx, sweeping=worker.sweeping).start(stop)
                    t0 = time.perf_counter()
                    b_times.append(sweep(worker, n))
                    loop = loop or DeliveryLoop(ctx, sweeping=worker.sweeping).start(stop)
                    while int(httpx.get(hook_url, timeout=10).text) - before < n and time.perf_counter() - t0 < 120:
                        time.sleep(0.05)
                    delivered = time.perf_counter() - t0
                    stop.set()
                    loop.join()
                    print(f"round: A {a_times[-1]:.2f} s, B {b_times[-1]:.2f} s, delivered in {delivered:.2f} s",
                          file=sys.stderr)
                received = int(httpx.get(hook_url, timeout=10).text)
            finally:
                ctx.close()
    finally:
        for proc in (sandbox, receiver):
            proc.terminate()
            proc.wait(timeout=10)
    a, b = statistics.median(a_times), statistics.median(b_times)
    print(f"webhooks N={n} C={conc} L_ms={args.latency_ms} rounds={args.rounds} sweep_a_s={a:.2f} sweep_b_s={b:.2f} "
          f"sweep_ratio={b / a:.3f} delivered_s={delivered:.2f} received={received}")
    return 0 if received == n * args.rounds else 1


if __name__ == "__main__":
    raise SystemExit(main())
