"""A HubSpot outage against a running refresh worker, measured (tests/lifecycle/test_outage.py, bench/outage.py).

N due portals; the sandbox's token endpoint answers 503 to everything for ``outage_s`` seconds (its fault
controls); a real :class:`dashboard.worker.RefreshWorker` loop runs throughout. Measured: refresh requests
HubSpot received from the start of the outage until every portal is healthy again, the seconds from the
end of the outage to that moment, and the alert messages sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import httpx

from dashboard import repository
from dashboard.context import AppContext
from dashboard.lifecycle import breaker
from dashboard.models import PortalStatus, utcnow
from dashboard.worker import RefreshWorker


@dataclass(frozen=True)
class OutageResult:
    portals: int
    outage_s: float
    requests: int
    recovered_after_s: float
    alerts: list[str]
    degraded_seen: bool
    requests_at_trip: int  # when the test first saw "degraded" (polled every 0.2 s)
    requests_at_recovery: int

    def line(self) -> str:
        return (f"outage N={self.portals} outage_s={self.outage_s:g} refresh_requests={self.requests} "
                f"healthy_after_recovery_s={self.recovered_after_s:.1f} alerts={len(self.alerts)} "
                f"degraded_seen={self.degraded_seen} requests_at_trip={self.requests_at_trip} "
                f"requests_by_recovery={self.requests_at_recovery}")


def _requests(http: httpx.Client) -> int:
    """Refresh requests the sandbox saw: grants it answered plus requests its fault rules answered instead
    (only the worker calls it during the scenario, and it only refreshes)."""
    stats = http.get("/_sandbox/stats").json()
    return int(stats["token_requests"].get("refresh_token", 0)) + int(stats["faults"])


def run_outage(ctx: AppContext, sandbox_url: str, hubs: list[int], *, outage_s: float, alerts: list[bytes],
               deadline_s: float = 120.0, interval: float = 60.0) -> OutageResult:
    """The scenario; the portals in ``hubs`` must be due."""
    http = httpx.Client(base_url=sandbox_url, timeout=30)
    start_count = _requests(http)
    http.post("/_sandbox/faults", json={"target": "token", "error_rate": 1.0, "error_status": 503}
              ).raise_for_status()
    worker = RefreshWorker(ctx, kind="embedded", interval=interval, concurrency=8)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    degraded_seen = False
    at_trip = at_end = -1
    started = time.monotonic()
    thread.start()
    try:
        while time.monotonic() - started < outage_s:
            if not degraded_seen and breaker.status(ctx)[breaker.HUBSPOT].active:
                degraded_seen = True
                at_trip = _requests(http) - start_count
            time.sleep(0.2)
        at_end = _requests(http) - start_count
        http.delete("/_sandbox/faults").raise_for_status()
        ended = time.monotonic()
        while time.monotonic() - ended < deadline_s:
            with ctx.session() as session:
                rows = [repository.portal_or_not_found(session=session, hub_id=h) for h in hubs]
            if all(p.status == PortalStatus.ACTIVE and p.expires_at and p.expires_at > utcnow() for p in rows):
                break
            time.sleep(0.2)
        recovered = time.monotonic() - ended
    finally:
        stop.set()
        thread.join(30)
    requests = _requests(http) - start_count
    http.close()
    return OutageResult(len(hubs), outage_s, requests, recovered, [json.loads(a)["event"] for a in alerts],
                        degraded_seen, at_trip, at_end)
