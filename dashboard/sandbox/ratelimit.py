"""HubSpot's limits for OAuth apps: 110 requests per rolling 10 s per installing account (USAGE), and a
daily limit per account that depends on its tier (usage guidelines, fact sheet §12): 250,000 for free and
Starter accounts, 625,000 for Professional and Enterprise. The day is the sandbox clock's UTC day (HubSpot
resets at the account's midnight; the sandbox's accounts have no time zone of their own)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .tiers import parse_tier

LIMIT = 110
WINDOW_S = 10.0
DAILY_FREE_STARTER = 250_000
DAILY_PRO_ENTERPRISE = 625_000
PROFESSIONAL = 2


def daily_limit_for(tier: str) -> int:
    """The account's daily request limit from its tier (its best hub level decides)."""
    return DAILY_PRO_ENTERPRISE if parse_tier(tier).best_level() >= PROFESSIONAL else DAILY_FREE_STARTER


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


class DailyCounter:
    """Requests per account and UTC day; a request over the day's limit is refused and not counted."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, int], int] = {}

    def hit(self, hub_id: int, now: float, limit: int) -> bool:
        day = int(now // 86_400)
        used = self._counts.get((hub_id, day), 0)
        if used >= limit:
            return False
        self._counts[(hub_id, day)] = used + 1
        return True

    def used(self, hub_id: int, now: float) -> int:
        return self._counts.get((hub_id, int(now // 86_400)), 0)
