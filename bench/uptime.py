"""Benchmark: uptime for a page of portals is flat in the number of portals (issue 23 item 4).

Builds two SQLite databases, with 1,000 and 100,000 portals, each portal with 3 transitions spread over the
last 30 days (the timeline's rows), then times ``lifecycle.uptime.uptime`` (24 h, 7 d and 30 d) for one
page of 50 portals, and ``fleet_chart`` (last 24 h, hourly). The last line is ``uptime small=1000
large=100000 page=50 small_ms=... large_ms=... ratio=... fleet_small_ms=... fleet_large_ms=...``; goal: the
page's ratio <= 2 (flat: the query reads the page's transitions only).

    .venv/bin/python bench/uptime.py [--large 100000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from dashboard.actors import VIEWER, Actor  # noqa: E402
from dashboard.context import AppContext, build_context  # noqa: E402
from dashboard.lifecycle import uptime  # noqa: E402
from dashboard.models import AuditEvent, Portal, utcnow  # noqa: E402
from dashboard.security.crypto import generate_key_entry  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402

BENCH = Actor("bench:uptime", VIEWER)
STATES = ("healthy", "failing", "healthy", "needs_reauth", "healthy")


def build(tmp: str, n: int) -> AppContext:
    settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{tmp}/u{n}.db",
                             dashboard_data_dir=Path(tmp), dashboard_encryption_keys=generate_key_entry("b1"))
    ctx = build_context(settings, start_sandbox=False)
    now = utcnow()
    rng = random.Random(n)
    with ctx.session() as session:
        conn = session.connection()
        for start in range(0, n, 10_000):
            hubs = range(1_000_000 + start, 1_000_000 + min(n, start + 10_000))
            conn.execute(insert(Portal.__table__), [{"app": "default", "hub_id": h, "status": "active",  # type: ignore[attr-defined]
                                                      "expires_at": now + timedelta(minutes=30)} for h in hubs])
            rows = []
            for h in hubs:
                ages = sorted((rng.uniform(0, 30 * 86400) for _ in range(3)), reverse=True)
                for i, age in enumerate(ages):
                    rows.append({"at": now - timedelta(seconds=age), "app": "default", "actor": "bench", "hub_id": h,
                                 "action": "transition", "outcome": STATES[i + 1], "detail": "",
                                 "from_state": STATES[i], "to_state": STATES[i + 1]})
            conn.execute(insert(AuditEvent.__table__), rows)  # type: ignore[attr-defined]
        session.commit()
    return ctx


def timed(fn: object, runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--small", type=int, default=1000)
    p.add_argument("--large", type=int, default=100_000)
    p.add_argument("--page", type=int, default=50)
    args = p.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="uptime-") as tmp:
        for n in (args.small, args.large):
            t0 = time.perf_counter()
            ctx = build(tmp, n)
            print(f"built {n} portals with {3 * n} transitions in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            page = [1_000_000 + i for i in range(0, n, max(1, n // args.page))][: args.page]
            try:
                results[n] = (timed(lambda c=ctx, p=page: uptime.uptime(c, p, actor=BENCH)),  # type: ignore[misc]
                              timed(lambda c=ctx: uptime.fleet_chart(c, actor=BENCH), runs=3))  # type: ignore[misc]
            finally:
                ctx.close()
    (small_ms, fleet_small), (large_ms, fleet_large) = results[args.small], results[args.large]
    ratio = large_ms / small_ms
    print(f"uptime small={args.small} large={args.large} page={args.page} small_ms={small_ms:.1f} "
          f"large_ms={large_ms:.1f} ratio={ratio:.2f} fleet_small_ms={fleet_small:.1f} "
          f"fleet_large_ms={fleet_large:.1f}")
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
