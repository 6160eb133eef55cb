"""Soak: several refresh worker processes over many portals, short token lifetimes and random faults.

Usage: ``python bench/soak.py [--portals 1000] [--duration 300] [--workers 3] [--ttl 60] [--leeway 20]``.
The sandbox mints tokens that live ``--ttl`` seconds, so every portal is refreshed again and again; a
fault injector flips random faults (429 / 5xx bursts, timeouts, malformed JSON, latency spikes) on the
token endpoint for the whole run. Refresh tokens rotate (the old one dies at once), so a duplicate
refresh shows as ``invalid_grant`` at the sandbox and a lost token as a stored refresh token that is dead.

The last line: ``soak portals=... duration_s=... refreshes=... duplicate_refreshes=...
lost_refresh_tokens=... needs_reauth_unexpected=... p95_refresh_ms=...``. Goal: zero for the three
middle counts. Exit status 1 when one is not zero.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import repository  # noqa: E402
from dashboard.context import build_context  # noqa: E402
from dashboard.models import PortalStatus  # noqa: E402
from dashboard.sandbox import SandboxConfig, SandboxServer  # noqa: E402
from dashboard.security import vault  # noqa: E402
from dashboard.security.crypto import generate_key_entry  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from tests.utils.seeding import seed_portals  # noqa: E402

FAULTS = [
    {"error_rate": 0.3, "error_status": 429},
    {"error_rate": 0.3, "error_status": 503},
    {"error_rate": 0.2, "error_status": 502},
    {"timeout_rate": 0.05},
    {"malformed_rate": 0.05},
    {"latency_ms": 300},
    {},
]
TOOK = re.compile(r"took=(\d+)ms")


def inject_faults(url: str, stop: threading.Event, seed: int) -> int:
    """Change the token endpoint's fault every 2-5 s until ``stop``; returns how many changes were made."""
    rng = random.Random(seed)
    changes = 0
    with httpx.Client(base_url=url, timeout=10) as http:
        while not stop.wait(rng.uniform(2, 5)):
            http.post("/_sandbox/faults", json={"target": "token", **rng.choice(FAULTS)}).raise_for_status()
            changes += 1
        http.post("/_sandbox/faults", json={"target": "token"}).raise_for_status()
    return changes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portals", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--ttl", type=int, default=60)
    ap.add_argument("--leeway", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    key = generate_key_entry("soak")
    env_values = {
        "DASHBOARD_DATABASE_URL": f"sqlite:///{tmp / 'soak.db'}", "DASHBOARD_ENCRYPTION_KEYS": key,
        "DASHBOARD_DATA_DIR": str(tmp), "DASHBOARD_REFRESH_LEEWAY_SECONDS": str(args.leeway),
        "DASHBOARD_HTTP_TIMEOUT_SECONDS": "2",
    }
    config = SandboxConfig(access_token_ttl=args.ttl, rotate_refresh_tokens=True, latency_ms=20)
    with SandboxServer(config).start() as sandbox:
        env_values["DASHBOARD_SANDBOX_URL"] = sandbox.url
        settings = load_settings(env_values, secrets_path=None)
        ctx = build_context(settings, sandbox_url=sandbox.url)
        seed_portals(ctx, sandbox.url, args.portals, due=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DASHBOARD_"))}
        env.update(env_values, PYTHONPATH=str(ROOT))
        cmd = [sys.executable, "-m", "dashboard", "refresh", "--due", "--loop", "--interval", "1",
               "--concurrency", str(args.concurrency)]
        workers = [subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True) for _ in range(args.workers)]
        stop = threading.Event()
        injector = threading.Thread(target=inject_faults, args=(sandbox.url, stop, args.seed), daemon=True)
        started = time.monotonic()
        injector.start()
        time.sleep(args.duration)
        stop.set()
        injector.join(timeout=30)
        # Let every backed-off portal recover with the faults gone, then stop the workers gracefully.
        time.sleep(min(10.0, args.duration / 6))
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
        elapsed = time.monotonic() - started

        stats = httpx.get(f"{sandbox.url}/_sandbox/stats", timeout=30).json()
        tokens = httpx.get(f"{sandbox.url}/_sandbox/tokens", timeout=120).json()["tokens"]
        live = {t["token"] for t in tokens if t["kind"] == "refresh" and t["active"]}
        lost = needs_reauth = 0
        took: list[int] = []
        with ctx.session() as session:
            for row in repository.list_portal_rows(session=session):
                portal = repository.get_portal(session=session, hub_id=row["hub_id"])
                assert portal is not None
                if portal.status == PortalStatus.NEEDS_REAUTH:
                    needs_reauth += 1
                if vault.open_tokens(ctx.cipher, portal).refresh_token not in live:
                    lost += 1
            for event in repository.list_audit_events(session=session, action="refresh", outcome="success",
                                                      limit=10_000_000):
                if m := TOOK.search(event.detail):
                    took.append(int(m.group(1)))
        ctx.close()
    refreshes = sum(stats["refresh_by_hub"].values())
    duplicates = stats["errors"].get("invalid_grant", 0)
    took.sort()
    p95 = took[int(0.95 * (len(took) - 1))] if took else -1
    print(f"faults injected: {stats.get('faults', 0)} faulted responses; workers={args.workers} "
          f"concurrency={args.concurrency} ttl_s={args.ttl} leeway_s={args.leeway}")
    print(f"soak portals={args.portals} duration_s={elapsed:.0f} refreshes={refreshes} "
          f"duplicate_refreshes={duplicates} lost_refresh_tokens={lost} needs_reauth_unexpected={needs_reauth} "
          f"p95_refresh_ms={p95}")
    return 0 if duplicates == lost == needs_reauth == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
