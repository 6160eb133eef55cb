"""A HubSpot outage against a running refresh worker, measured (tests/lifecycle/test_outage.py, bench/outage.py).

N due portals; the sandbox's token endpoint answers 503 to everything for ``outage_s`` seconds (its fault
controls); a real :class:`dashboard.refresh.worker.RefreshWorker` loop runs throughout. Measured: refresh requests
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
from dashboard.refresh.worker import RefreshWorker


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
    # Timings that turn the breaker's rule (one probe per period) into bounds: seconds from the trip (the
    # condition's ``since``) to the read of ``requests_at_trip``, and from that read to the end of the faults.
    trip_seen_after_s: float = 0.0
    degraded_s: float = 0.0
    retried_calls: int = 0  # failed refresh calls that made more than one attempt (the timeline's ``attempt``)

    def line(self) -> str:
        return (f"outage N={self.portals} outage_s={self.outage_s:g} refresh_requests={self.requests} "
                f"healthy_after_recovery_s={self.recovered_after_s:.1f} alerts={len(self.alerts)} "
                f"degraded_seen={self.degraded_seen} requests_at_trip={self.requests_at_trip} "
                f"requests_by_recovery={self.requests_at_recovery} trip_seen_after_s={self.trip_seen_after_s:.1f} "
                f"retried_calls={self.retried_calls}")


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
    seen_after = 0.0
    seen_at = float("nan")
    started = time.monotonic()
    thread.start()
    try:
        while time.monotonic() - started < outage_s:
            hubspot = breaker.status(ctx)[breaker.HUBSPOT]
            if not degraded_seen and hubspot.active:
                degraded_seen = True
                at_trip = _requests(http) - start_count
                seen_at = time.monotonic()
                assert hubspot.since is not None
                seen_after = (utcnow() - hubspot.since).total_seconds()
            time.sleep(0.2)
        at_end = _requests(http) - start_count
        http.delete("/_sandbox/faults").raise_for_status()
        ended = time.monotonic()
        degraded_s = ended - seen_at if degraded_seen else 0.0
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
    with ctx.session() as session:
        failures = repository.list_audit_events(session=session, action="refresh", outcome="failure", limit=10_000)
    retried = sum(1 for e in failures if e.hub_id in set(hubs) and (e.attempt or 1) > 1)
    return OutageResult(len(hubs), outage_s, requests, recovered, [json.loads(a)["event"] for a in alerts],
                        degraded_seen, at_trip, at_end, seen_after, degraded_s, retried)
