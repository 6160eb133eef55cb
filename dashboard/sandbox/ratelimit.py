"""HubSpot's burst limit for OAuth apps: 110 requests per rolling 10 s per installing account (USAGE)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

LIMIT = 110
WINDOW_S = 10.0


@dataclass(frozen=True)
class RateDecision:
    """Whether a request may proceed, and the ``X-HubSpot-RateLimit-*`` headers to send with it."""

    allowed: bool
    remaining: int
    limit: int = LIMIT
    window_s: float = WINDOW_S

    def headers(self) -> dict[str, str]:
        """HubSpot's headers for OAuth-authorized calls (no ``-Daily`` ones; USAGE)."""
        return {
            "X-HubSpot-RateLimit-Max": str(self.limit),
            "X-HubSpot-RateLimit-Remaining": str(self.remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_s * 1000)),
        }


class RateLimiter:
    """A rolling window per hub id. Rejected requests are not counted, so a client that backs off recovers."""

    def __init__(self, limit: int = LIMIT, window_s: float = WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[int, deque[float]] = {}

    def hit(self, hub_id: int, now: float) -> RateDecision:
        """Count one request for ``hub_id`` at ``now`` if the window has room."""
        hits = self._hits.setdefault(hub_id, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return RateDecision(False, 0, self.limit, self.window_s)
        hits.append(now)
        return RateDecision(True, self.limit - len(hits), self.limit, self.window_s)

    def peek(self) -> RateDecision:
        """Headers for a response that names no hub (e.g. a missing token): the full allowance."""
        return RateDecision(True, self.limit, self.limit, self.window_s)

    def reset(self) -> None:
        """Forget every window."""
        self._hits.clear()
