"""Benchmark: 30 due portals through a HubSpot outage (every refresh answers 503) of 90 s, with the defaults.

Starts the sandbox in a subprocess, seeds N due portals in a temporary SQLite file, a local alert webhook,
then runs tests/utils/outage.py's scenario: a real refresh worker loop (concurrency 8, the default retry
policy and the default 30 s probe period) while the sandbox's fault controls make every token request
answer 503 for ``--outage-s`` seconds, then recover. Issue 23's goals: at most 45 refresh requests (main
made 180), every portal healthy within 60 s of the recovery, at most 4 alert messages.

The last line is ``outage N=... outage_s=... refresh_requests=... healthy_after_recovery_s=... alerts=...``.

    .venv/bin/python bench/outage.py [--portals 30] [--outage-s 90]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.refresh_sweep import start_sandbox  # noqa: E402
from dashboard.context import build_context  # noqa: E402
from dashboard.security.crypto import generate_key_entry  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from tests.utils.outage import run_outage  # noqa: E402
from tests.utils.seeding import seed_portals  # noqa: E402


def alert_sink() -> tuple[ThreadingHTTPServer, str, list[bytes]]:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/alerts", received


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--portals", type=int, default=30)
    p.add_argument("--outage-s", type=float, default=90.0)
    args = p.parse_args(argv)
    sandbox, url = start_sandbox()
    server, alerts_url, alerts = alert_sink()
    try:
        with tempfile.TemporaryDirectory(prefix="outage-") as tmp:
            settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{tmp}/bench.db",
                                     dashboard_data_dir=Path(tmp), dashboard_encryption_keys=generate_key_entry("b1"),
                                     dashboard_alert_webhook_url=alerts_url)
            ctx = build_context(settings, sandbox_url=url)
            try:
                hubs = seed_portals(ctx, url, args.portals)
                result = run_outage(ctx, url, hubs, outage_s=args.outage_s, alerts=alerts, deadline_s=180)
            finally:
                ctx.close()
    finally:
        server.shutdown()
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print(f"alert events: {result.alerts}", file=sys.stderr)
    print(result.line())
    ok = result.requests <= 45 and result.recovered_after_s <= 60 and len(result.alerts) <= 4
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
