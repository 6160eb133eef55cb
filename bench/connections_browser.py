"""Benchmark: the Connections page in Debian's Chromium at N portals: cold loads and idle tabs' server CPU.

Seeds N portals (as bench/connections_page.py does) into a temporary SQLite file, starts the dashboard
(``streamlit run``, headless, port ``--port``), then

* ``cold_load_s``: median of 3 loads of the Connections page, each in a new browser context (a new
  Streamlit session), from navigation until the script is idle and the table is drawn (one load before
  them warms the server process's imports: reported as ``first_load_s``),
* ``cpu_1_tab_pct`` / ``cpu_4_tabs_pct``: the server process's CPU (user + system, % of one core) over
  ``--seconds`` with 1 and then 4 idle Connections tabs open, and ``per_tab_pct`` (4 tabs, less the idle
  server's own share, divided by 4),

and prints ``connections_browser portals=... first_load_s=... cold_load_s=... idle_server_pct=...
cpu_1_tab_pct=... cpu_4_tabs_pct=... per_tab_pct=...``. Goals (issues 12 and 16): cold_load_s <= 2.5 at
100,000 portals (<= 3 at 10,000); per_tab_pct <= 3.

    .venv/bin/python bench/connections_browser.py [--portals 10000] [--seconds 20] [--port 8551]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from bench.connections_page import seed  # noqa: E402
from dashboard.context import build_context  # noqa: E402
from dashboard.security.crypto import generate_key_entry  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, start_dashboard  # noqa: E402

READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
TABLE = "[data-testid='stDataFrame']"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def load(browser: Browser, url: str) -> tuple[float, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(TABLE, timeout=120_000)
    page.wait_for_selector(READY, timeout=120_000)
    return time.perf_counter() - start, page


def share(pid: int, seconds: float) -> float:
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portals", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=8551)
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith(("HUBSPOT_", "DASHBOARD_")):
            del os.environ[name]
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        work = Path(tmp)
        env = {"DASHBOARD_DATABASE_URL": f"sqlite:///{work / 'dashboard.db'}",
               "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("bench"), "DASHBOARD_DATA_DIR": str(work / "data"),
               "DASHBOARD_SANDBOX_URL": "http://127.0.0.1:9"}  # never contacted: the page lists only
        os.environ.update(env)
        ctx = build_context(load_settings(secrets_path=None))
        seed(ctx, args.portals)
        ctx.close()
        server = start_dashboard(work=work, port=args.port, sandbox_url=env["DASHBOARD_SANDBOX_URL"], env=env)
        url = f"http://127.0.0.1:{args.port}/"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                first, page = load(browser, url)
                page.context.close()
                cold = []
                for _ in range(3):
                    took, page = load(browser, url)
                    cold.append(took)
                    page.context.close()
                time.sleep(2)
                idle = share(server.process.pid, args.seconds)
                tabs = [load(browser, url)[1]]
                time.sleep(2)
                one = share(server.process.pid, args.seconds)
                tabs += [load(browser, url)[1] for _ in range(3)]
                time.sleep(2)
                four = share(server.process.pid, args.seconds)
                for tab in tabs:
                    tab.context.close()
                browser.close()
        finally:
            server.stop()
    print(f"connections_browser portals={args.portals} first_load_s={first:.2f} "
          f"cold_load_s={statistics.median(cold):.2f} idle_server_pct={idle:.1f} cpu_1_tab_pct={one:.1f} "
          f"cpu_4_tabs_pct={four:.1f} per_tab_pct={max(0.0, four - idle) / 4:.1f}", flush=True)


if __name__ == "__main__":
    main()
