"""Benchmark: the Connections page's data at 1,000 / 10,000 / 100,000 portals.

Creates the portals directly (SQL inserts with dummy ciphertext: this measures the listing, not installs)
in a temporary SQLite file, fills the portal_scope table, then times

* ``data_s``: the page's data path at one instant (status aggregate, histogram, the first page of 100 rows
  in "problems first" order, its frame and countdown), as one run of the page computes it,
* ``filtered_s``: the same with a status filter, a scope filter and a search (the filtered count included),
* ``raw_select_s``: a raw SQL select of every portal's listing columns (what loading everything would cost
  before any Python work),
* ``apptest_s``: one full AppTest run of the Connections page (warm: the context is cached, as in a
  running server; the cold first run is reported on stderr),

each the best of ``--repeat`` runs (as ``timeit`` reports: other processes only ever add time), and prints
one line per size: ``connections_page portals=... data_s=... filtered_s=... raw_select_s=... apptest_s=...
peak_rss_mb=...``. Goals (issue 16): data_s <= 0.15 at 100,000 and flat (within 2x) across sizes while
raw_select_s grows. Each size runs in its own process so peak_rss_mb is that size's.

    .venv/bin/python bench/connections_page.py [--portals 1000 10000 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from dashboard.actors import Actor  # noqa: E402
from dashboard.context import build_context  # noqa: E402
from dashboard.models import Portal, PortalStatus, utcnow  # noqa: E402
from dashboard.repository import LISTING_COLUMNS, fill_portal_scopes  # noqa: E402
from dashboard.security.crypto import generate_key_entry  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from dashboard.ui.connections_table import PAGE_SIZE  # noqa: E402
from dashboard.ui.connections_view import (  # noqa: E402
    Filters,
    connections_frame,
    load_connections_view,
    with_countdown,
)

SEED_BATCH = 10_000

SCOPES = ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read",
          "crm.objects.deals.read", "crm.schemas.contacts.read", "tickets", "files", "forms", "timeline"]
DUMMY_CT = "A" * 160  # the size of a real ciphertext; never decrypted here


def portal_rows(count: int) -> list[dict[str, Any]]:
    rng = random.Random(42)
    now = utcnow()
    rows = []
    for i in range(count):
        hub = 20_000_000 + i
        status = rng.choices([PortalStatus.ACTIVE, PortalStatus.REFRESH_FAILING, PortalStatus.NEEDS_REAUTH,
                              PortalStatus.REVOKED], weights=[90, 4, 3, 3])[0]
        granted = sorted([*rng.sample(SCOPES[1:], rng.randint(1, 6)), "oauth"])
        refreshed = now - timedelta(minutes=rng.randint(1, 600))
        rows.append({
            "hub_id": hub, "hub_domain": f"portal-{hub}.hubspot.com", "app_id": 4_200_001,
            "installed_by": f"admin{i % 500}@example.com", "user_id": 10_000_000 + i,
            "requested_scopes": " ".join(granted[:3]), "requested_optional_scopes": "crm.objects.deals.read",
            "granted_scopes": " ".join(granted), "status": status,
            "access_token_ct": None if status == PortalStatus.REVOKED else DUMMY_CT,
            "refresh_token_ct": None if status == PortalStatus.REVOKED else DUMMY_CT,
            "key_id": None if status == PortalStatus.REVOKED else "bench", "token_fingerprint": f"{hub:x}"[-8:],
            "expires_at": now + timedelta(seconds=rng.randint(-600, 7200)), "last_refresh_at": refreshed,
            "last_refresh_result": "success" if status == PortalStatus.ACTIVE else "transient",
            "last_error": None if status == PortalStatus.ACTIVE else "HubSpot answered 503",
            "consecutive_failures": 0 if status == PortalStatus.ACTIVE else rng.randint(1, 5),
            "token_version": 1, "installed_at": refreshed - timedelta(days=rng.randint(0, 300)),
            "created_at": refreshed, "updated_at": refreshed,
        })
    return rows


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs, as ``timeit`` reports: the cost without other processes' noise."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def seed(ctx: object, count: int) -> None:
    """``count`` portals in batches, then their scopes (a bulk insert bypasses the repository's writers)."""
    rows = portal_rows(count)
    with ctx.session() as session:  # type: ignore[attr-defined]
        for start in range(0, count, SEED_BATCH):
            session.execute(insert(Portal), rows[start:start + SEED_BATCH])
        fill_portal_scopes(session=session)
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portals", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if len(args.portals) > 1:  # one process per size: peak memory is that size's
        for count in args.portals:
            subprocess.run([sys.executable, __file__, "--portals", str(count), "--repeat", str(args.repeat)],
                           check=True)
        return
    count = args.portals[0]

    with tempfile.TemporaryDirectory(prefix="bench-connections-") as tmp:
        env = {
            "DASHBOARD_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("bench"),
            "DASHBOARD_DATA_DIR": str(Path(tmp) / "data"),
            "DASHBOARD_SANDBOX_URL": "http://127.0.0.1:9",  # never contacted: listing makes no HubSpot call
        }
        for name in list(os.environ):
            if name.startswith(("HUBSPOT_", "DASHBOARD_")):
                del os.environ[name]
        os.environ.update(env)
        ctx = build_context(load_settings(secrets_path=None))
        seed(ctx, count)

        actor = Actor("bench", "admin")

        def page_data(filters: Filters | None = None) -> None:
            """What one run of the page computes: the view, then the visible page's frame and countdown."""
            now = utcnow()
            view = load_connections_view(ctx, actor=actor, filters=filters or Filters(), now=now, limit=PAGE_SIZE)
            with_countdown(connections_frame(view.connections), now)

        narrow = Filters(search="admin1", statuses=("healthy", "expiring"), scope="tickets")

        columns = ", ".join(select(*LISTING_COLUMNS).selected_columns.keys())
        sql = text(f"SELECT {columns} FROM portal ORDER BY hub_id")  # noqa: S608 (constant column names)

        def raw_select() -> None:
            with ctx.engine.connect() as conn:
                conn.execute(sql).fetchall()

        data_s = best_of(args.repeat, page_data)
        filtered_s = best_of(args.repeat, lambda: page_data(narrow))
        raw_s = best_of(args.repeat, raw_select)
        ctx.close()

        from streamlit.testing.v1 import AppTest

        start = time.perf_counter()
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
        at.run()  # cold: imports, migrations check, context build
        if at.exception:
            raise SystemExit(f"the Connections page failed: {at.exception}")
        cold_s = time.perf_counter() - start
        apptest_s = best_of(args.repeat, at.run)
        metrics = {m.label: int(m.value) for m in at.metric}
        if at.exception or metrics.get("Connected", 0) + metrics.get("Revoked", 0) != count:
            raise SystemExit(f"the Connections page did not show the expected metrics: {metrics}")
        from dashboard.ui.context import reset_context

        reset_context()

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"connections_page portals={count} data_s={data_s:.3f} filtered_s={filtered_s:.3f} "
          f"raw_select_s={raw_s:.3f} apptest_s={apptest_s:.3f} peak_rss_mb={peak_rss_mb:.0f}", flush=True)
    print(f"(apptest_s is the best warm run; the first, cold run took {cold_s:.3f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
