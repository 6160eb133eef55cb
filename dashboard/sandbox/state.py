"""Everything the running sandbox remembers: accounts, installs, codes, tokens, stats, faults, settings.

All of it is touched only from the server's event loop (one thread), so handlers never race and need no
locks. Handlers never ``await`` between reading and writing a record for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .config import AppScopes, SandboxAccount, SandboxConfig
from .faults import FaultBook
from .ratelimit import DailyCounter, RateLimiter


@dataclass
class Settings:
    """The parts of the configuration ``POST /_sandbox/config`` may change at runtime."""

    access_token_ttl: int
    code_ttl: float
    rotate_refresh_tokens: bool
    rotation_grace_s: float
    latency_ms: int
    app_scopes: AppScopes | None
    rich_token_body: bool = False
    uninstall_mode: str = "bad_refresh_token"
    revoke_dead_token_status: int = 200
    daily_limit: int | None = None  # None: each account's tier decides (ratelimit.daily_limit_for)

    @classmethod
    def from_config(cls, config: SandboxConfig) -> Settings:
        """The settings a fresh (or reset) sandbox starts with."""
        return cls(
            access_token_ttl=config.access_token_ttl,
            code_ttl=config.code_ttl,
            rotate_refresh_tokens=config.rotate_refresh_tokens,
            rotation_grace_s=config.rotation_grace_s,
            latency_ms=config.latency_ms,
            app_scopes=None if config.app_scopes is None else AppScopes.from_json(config.app_scopes),
            rich_token_body=config.rich_token_body,
            uninstall_mode=config.uninstall_mode,
            revoke_dead_token_status=config.revoke_dead_token_status,
        )

    def to_json(self) -> dict[str, Any]:
        """The shape ``GET /_sandbox/config`` returns."""
        return {
            "access_token_ttl": self.access_token_ttl,
            "code_ttl": self.code_ttl,
            "rotate_refresh_tokens": self.rotate_refresh_tokens,
            "rotation_grace_s": self.rotation_grace_s,
            "latency_ms": self.latency_ms,
            "app_scopes": None if self.app_scopes is None else self.app_scopes.to_json(),
            "rich_token_body": self.rich_token_body,
            "uninstall_mode": self.uninstall_mode,
            "revoke_dead_token_status": self.revoke_dead_token_status,
            "daily_limit": self.daily_limit,
        }


@dataclass
class Installation:
    """The app installed on one account. Uninstalling kills every token issued under it."""

    hub_id: int
    install_id: str
    active: bool = True


@dataclass
class AuthCode:
    """An authorization code: single use, short-lived, bound to the redirect URI of its authorize request."""

    code: str
    hub_id: int
    scopes: tuple[str, ...]
    redirect_uri: str
    expires_at: float
    used: bool = False


@dataclass
class AccessToken:
    """An issued access token. It stays valid until it expires, even after a refresh or a revoke."""

    token: str
    hub_id: int
    scopes: tuple[str, ...]
    install: Installation
    issued_at: float
    expires_at: float


@dataclass
class RefreshToken:
    """An issued refresh token; ``active`` turns False when it is rotated away or revoked.

    A rotated token remembers when (``retired_at``) and for which ``successor``: with a rotation grace
    period it still refreshes, answering that same successor again (see ``grants.refresh``).
    """

    token: str
    hub_id: int
    scopes: tuple[str, ...]
    install: Installation
    issued_at: float
    active: bool = True
    retired_at: float | None = None
    successor: RefreshToken | None = None

    def usable(self) -> bool:
        """Whether a refresh with this token may succeed."""
        return self.active and self.install.active

    def in_grace(self, now: float, grace_s: float) -> bool:
        """Rotated less than ``grace_s`` ago, and its successor not used (nor revoked) yet."""
        return (
            self.retired_at is not None
            and now < self.retired_at + grace_s
            and self.successor is not None
            and self.successor.usable()
        )


@dataclass
class Stats:
    """Counters for ``GET /_sandbox/stats``, so tests and benchmarks can see what a client really did."""

    token_requests: Counter[str] = field(
        default_factory=lambda: Counter({"authorization_code": 0, "refresh_token": 0})
    )
    errors: Counter[str] = field(default_factory=Counter)
    refresh_by_hub: Counter[int] = field(default_factory=Counter)
    consent: Counter[str] = field(default_factory=lambda: Counter({"grant": 0, "deny": 0}))
    introspect: int = 0
    revoke: int = 0
    metadata: int = 0
    api: int = 0
    issued: int = 0
    faults: int = 0
    rate_limited: int = 0
    grace_reuses: int = 0
    app_uninstalls: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON with string keys (``refresh_by_hub`` is keyed by hub id as a string)."""
        return {
            "token_requests": dict(self.token_requests),
            "errors": dict(self.errors),
            "refresh_by_hub": {str(hub): n for hub, n in sorted(self.refresh_by_hub.items())},
            "consent": dict(self.consent),
            "introspect": self.introspect,
            "revoke": self.revoke,
            "metadata": self.metadata,
            "api": self.api,
            "issued": self.issued,
            "faults": self.faults,
            "rate_limited": self.rate_limited,
            "grace_reuses": self.grace_reuses,
            "app_uninstalls": self.app_uninstalls,
        }


class SandboxState:
    """The sandbox's memory. Created per server; ``reset()`` returns it to the configured start."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.closing = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        """Forget tokens, codes, installs, stats, faults and overrides; restore the configured accounts."""
        self.settings = Settings.from_config(self.config)
        self.accounts: dict[int, SandboxAccount] = {a.hub_id: a for a in self.config.accounts}
        self.installs: dict[int, Installation] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.stats = Stats()
        self.faults = FaultBook()
        self.rate_limiter = RateLimiter()
        self.daily = DailyCounter()
        # The last API requests as HubSpot saw them (header names, never values): GET /_sandbox/api-log.
        self.api_log: deque[dict[str, Any]] = deque(maxlen=500)
        self.clock_offset = 0.0
        # Fault draws use their own generator so tests can seed it (POST /_sandbox/faults {"seed": n}).
        self.rng = random.Random()

    def now(self) -> float:
        """Wall-clock seconds, shifted by ``POST /_sandbox/clock`` so tests can age tokens instantly."""
        return time.time() + self.clock_offset

    def install(self, hub_id: int) -> Installation:
        """The account's active installation, creating one on first install or after an uninstall."""
        current = self.installs.get(hub_id)
        if current is None or not current.active:
            current = Installation(hub_id=hub_id, install_id=secrets.token_hex(8))
            self.installs[hub_id] = current
        return current

    def uninstall(self, hub_id: int) -> int:
        """Mark the account's installation gone; returns how many refresh tokens that killed."""
        current = self.installs.get(hub_id)
        if current is None or not current.active:
            return 0
        current.active = False
        return sum(1 for r in self.refresh_tokens.values() if r.install is current and r.active)

    async def sleep(self, seconds: float) -> None:
        """Sleep without blocking other requests, waking early when the server shuts down."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), timeout=seconds)
