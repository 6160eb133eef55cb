"""The token API's core: list portals, hand out a fresh access token, force a refresh, for an API key.

Transport-free (``dashboard/web/api/`` maps these calls and their errors to HTTP). Reads go through this
process's :class:`~dashboard.tokens.reads.ReadBatcher`: a batch of requests is one query and one commit,
and every read served is counted in the audit log (one row per key, portal and minute) before it is answered.
A token inside the leeway takes the slow path: refreshed through :func:`dashboard.refresh.service.refresh_portal`
under the portal's lease, one refresh per portal at a time in this process (single flight: the other
threads wait and read the new row) and across processes (the lease: the others find it busy and wait,
bounded, for the new row). A portal refreshed successfully less than a minute ago is served as it is, so
a leeway at or above the token's lifetime does not turn every read into a refresh. Refreshes are audited
by the refresh itself. Nothing here puts a token into a log line, an error or an audit detail.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from limits.storage import Storage

from dashboard import repository
from dashboard.actors import OPERATOR, Actor
from dashboard.admin.api_keys import ApiKeyInfo, KeyCache, check_portal
from dashboard.context import AppContext
from dashboard.errors import (
    ApiRateLimitedError,
    CryptoError,
    KeyNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    PortalRevokedError,
    PortalUnavailableError,
    TransientError,
)
from dashboard.models import Portal, PortalStatus, utcnow
from dashboard.ops import counters
from dashboard.proxy.limiter import (
    AsyncStorageMaker,
    WindowLimiter,
    WindowMemoryStorage,
    build_async_storage,
    build_storage,
)
from dashboard.refresh import service as refresh
from dashboard.security import vault
from dashboard.tokens.reads import SLOW, Read, ReadBatcher

BUSY_WAIT_SECONDS = 10.0  # how long a caller waits for another process's refresh of the same portal


@dataclass(frozen=True)
class AccessToken:
    hub_id: int
    access_token: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"AccessToken(hub_id={self.hub_id}, expires_at={self.expires_at.isoformat()})"


class RateLimiter:
    """``per_minute`` requests per API key in any 60 s (a moving window, so a burst is at most the budget).

    Built on :mod:`dashboard.proxy.limiter` (the ``limits`` library): pass the storage of
    :func:`dashboard.proxy.limiter.build_storage` and every replica sharing DASHBOARD_LOCK_URL's Redis
    shares each key's window; without it the window lives in this process.
    """

    def __init__(self, per_minute: int, storage: Storage | None = None,
                 async_storage: AsyncStorageMaker | None = None) -> None:
        self.per_minute = per_minute
        self._windows = WindowLimiter(storage if storage is not None else WindowMemoryStorage(), async_storage)

    def take(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds until it may (``Retry-After``).

        ``now`` is accepted for compatibility and ignored: the window's clock is the storage's.
        """
        return self._windows.take("api-key", key, limit=self.per_minute, window_s=60)

    async def take_async(self, key: str) -> float:
        """:meth:`take` on the event loop (Redis without blocking it)."""
        return await self._windows.take_async("api-key", key, limit=self.per_minute, window_s=60)


class TokenApi:
    """The token API's core for one server process (its rate limiter, key cache and reader thread live here)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.limiter = RateLimiter(ctx.settings.dashboard_api_rate_per_minute, build_storage(ctx.settings),
                                   build_async_storage(ctx.settings))
        self.keys = KeyCache(ctx)
        self.reads = ReadBatcher(ctx, self._decide)
        self._flights: dict[int, threading.Lock] = {}
        self._flights_lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> ApiKeyInfo:
        """The key behind an ``Authorization`` header (:func:`api_keys.authenticate`), remembered briefly."""
        return self.keys.authenticate(authorization)

    def cached_key(self, authorization: str | None) -> ApiKeyInfo | None:
        """The key from this process's cache (no database read), or None: then call :meth:`authenticate`."""
        return self.keys.cached(authorization)

    def check_rate(self, key: ApiKeyInfo) -> None:
        self._over_rate(key, self.limiter.take(key.prefix))

    async def check_rate_async(self, key: ApiKeyInfo) -> None:
        """:meth:`check_rate` on the event loop (the HTTP API's key dependency)."""
        self._over_rate(key, await self.limiter.take_async(key.prefix))

    def _over_rate(self, key: ApiKeyInfo, wait: float) -> None:
        if wait > 0:
            raise ApiRateLimitedError(f"API key {key.prefix} is over its rate of "
                                      f"{self.ctx.settings.dashboard_api_rate_per_minute} requests a minute",
                                      retry_after=wait)

    def list_portals(self, key: ApiKeyInfo) -> list[dict[str, Any]]:
        """Portals this key may see: hub id, domain, status, granted scopes, expiry. No token material."""
        check_portal(key, None, app=self.ctx.app_id)
        with self.ctx.session() as session:
            rows = repository.list_portal_rows(session=session)
        listed = [{"hub_id": r["hub_id"], "hub_domain": r["hub_domain"], "status": r["status"],
                   "granted_scopes": r["granted_scopes"].split(),
                   "expires_at": r["expires_at"].isoformat() if r["expires_at"] else None}
                  for r in rows if key.allows(int(r["hub_id"]), app=self.ctx.app_id)]
        self.reads.read_blocking(Read(key, "api.portals", None, served=True))  # counted before it is answered
        return listed

    # --- a token: the fast path (a batched read) and the slow one (a refresh) ---------------------------

    async def access_token_async(self, key: ApiKeyInfo, hub_id: int, *, action: str = "api.token") -> AccessToken:
        """:meth:`access_token` for the event loop: no thread hop unless the token needs a refresh."""
        check_portal(key, hub_id, app=self.ctx.app_id)  # another app's key: 403; another portal: 404
        got = await self.reads.read(Read(key, action, hub_id))
        if got is SLOW:
            token = await asyncio.to_thread(self._refreshed_token, key, hub_id)
            got = await self.reads.read(Read(key, action, hub_id, served=token))
        assert isinstance(got, AccessToken)
        return got

    def access_token(self, key: ApiKeyInfo, hub_id: int, *, action: str = "api.token") -> AccessToken:
        """A valid access token and its expiry; refreshed first when it expires within the leeway.

        ``action``: what the read is counted as in the audit log; ``""`` for reads that hand no token out
        (the HubSpot proxy's, which counts its calls itself)."""
        check_portal(key, hub_id, app=self.ctx.app_id)
        got = self.reads.read_blocking(Read(key, action, hub_id))
        if got is SLOW:
            got = self.reads.read_blocking(Read(key, action, hub_id, served=self._refreshed_token(key, hub_id)))
        assert isinstance(got, AccessToken)
        return got

    def _decide(self, read: Read, row: Any) -> object:
        """In the reader thread: the token of ``row`` (a ``repository.token_rows`` row), an error, or SLOW."""
        if row is None or read.hub_id is None or not read.key.allows(read.hub_id, app=self.ctx.app_id):
            raise NotFoundError(f"no portal {read.hub_id} for this API key")
        self._usable(row)
        if self._needs_refresh(row):
            return SLOW
        return self._open(row)

    def _refreshed_token(self, key: ApiKeyInfo, hub_id: int) -> AccessToken:
        """The slow path: one refresh per portal at a time in this process; the others read its result."""
        with self._flights_lock:
            flight = self._flights.setdefault(hub_id, threading.Lock())
        with flight:
            portal = self._portal(key, hub_id)  # read after the lock: whoever held it may have refreshed
            self._usable(portal)
            if self._needs_refresh(portal):
                portal = self._refreshed_row(key, portal)
            return self._open(portal)

    def _open(self, row: Portal | Any) -> AccessToken:
        hub_id = row.hub_id
        try:
            token = vault.open_access_token(self.ctx.cipher, row)
        except KeyNotFoundError as exc:
            raise PortalUnavailableError(f"portal {hub_id}: its tokens use key {row.key_id}, which is not "
                                         "configured (DASHBOARD_ENCRYPTION_KEYS)", code="key_missing") from exc
        except CryptoError as exc:
            raise PortalUnavailableError(f"portal {hub_id}: its stored tokens cannot be decrypted; reinstall it",
                                         code="undecryptable") from exc
        assert row.expires_at is not None  # a stored token pair always has an expiry
        return AccessToken(hub_id, token, row.expires_at)

    def _portal(self, key: ApiKeyInfo, hub_id: int) -> Portal:
        check_portal(key, hub_id, app=self.ctx.app_id)  # an unknown portal's answer: no probing of hub ids
        with self.ctx.session() as session:
            portal = repository.get_portal(session=session, hub_id=hub_id)
        if portal is None:
            raise NotFoundError(f"no portal {hub_id} for this API key")
        return portal

    @staticmethod
    def _usable(portal: Portal | Any) -> None:
        if portal.status == PortalStatus.REVOKED or portal.refresh_token_ct is None:
            raise PortalRevokedError(f"portal {portal.hub_id} was revoked; reinstall it")
        if portal.status == PortalStatus.NEEDS_REAUTH:
            raise PortalUnavailableError(f"portal {portal.hub_id} needs re-authorization: install it again",
                                         code="needs_reauth")

    def _needs_refresh(self, portal: Portal | Any) -> bool:
        """Inside the leeway, unless refreshed successfully less than a minute ago and not yet expired."""
        now = utcnow()
        leeway = timedelta(seconds=self.ctx.settings.dashboard_refresh_leeway_seconds)
        if portal.expires_at is not None and portal.expires_at > now + leeway:
            return False
        recent = portal.last_refresh_result == "success" and portal.last_refresh_at is not None \
            and portal.last_refresh_at > now - refresh.MIN_TOKEN_AGE
        return portal.expires_at is None or portal.expires_at <= now or not recent

    def _refreshed_row(self, key: ApiKeyInfo, portal: Portal) -> Portal:
        """Refresh under the lease, or wait (bounded) for whoever holds it; the row with the new tokens."""
        started = time.monotonic()
        actor = Actor(key.actor_name, OPERATOR)
        outcome = refresh.refresh_portal(self.ctx, portal.hub_id, actor=actor)
        counters.record_refresh(outcome.result, time.monotonic() - started, app=self.ctx.app_id)
        if outcome.result == "needs_reauth":
            raise PortalUnavailableError(f"portal {portal.hub_id} needs re-authorization: install it again",
                                         code="needs_reauth")
        if outcome.result == "failed":
            raise TransientError(f"HubSpot did not refresh portal {portal.hub_id}; try again shortly")
        deadline = started + BUSY_WAIT_SECONDS
        while True:
            current = self._portal(key, portal.hub_id)
            self._usable(current)
            if outcome.result != "busy" or current.token_version > portal.token_version \
                    or not self._needs_refresh(current):
                return current
            if time.monotonic() >= deadline:
                raise TransientError(f"portal {portal.hub_id} is being refreshed by another process; try again")
            time.sleep(0.05)

    def force_refresh(self, key: ApiKeyInfo, hub_id: int) -> refresh.RefreshOutcome:
        """A refresh now, whatever the expiry (operator keys only)."""
        if key.role != OPERATOR:
            raise PermissionDeniedError(f"API key {key.prefix} is a reader key; forcing a refresh needs an "
                                        "operator key")
        portal = self._portal(key, hub_id)
        self._usable(portal)
        started = time.monotonic()
        outcome = refresh.refresh_portal(self.ctx, hub_id, actor=Actor(key.actor_name, OPERATOR), force=True)
        counters.record_refresh(outcome.result, time.monotonic() - started, app=self.ctx.app_id)
        if outcome.result == "needs_reauth":
            raise PortalUnavailableError(f"portal {hub_id} needs re-authorization: install it again",
                                         code="needs_reauth")
        if outcome.result == "skipped":
            self._usable(self._portal(key, hub_id))
        if outcome.result == "failed":
            raise TransientError(f"HubSpot did not refresh portal {hub_id}; try again shortly")
        return outcome
