"""The token API's core: list portals, hand out a fresh access token, force a refresh, for an API key.

Transport-free (``dashboard/web/api_routes.py`` maps these calls and their errors to HTTP). A token inside
the leeway is refreshed first through :func:`dashboard.refresh.refresh_portal`, under the portal's lease:
of many concurrent callers (threads or processes) one refreshes, the others find the lease busy and wait,
bounded, for the new row. Reads are audited at most once per key, portal and minute; refreshes are audited
by the refresh itself. Nothing here puts a token into a log line, an error or an audit detail.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from limits.storage import Storage

from dashboard import audit, metrics, refresh, repository, vault
from dashboard.actors import OPERATOR, Actor
from dashboard.api_keys import ApiKeyInfo
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
from dashboard.proxy.limiter import WindowLimiter, WindowMemoryStorage, build_storage

BUSY_WAIT_SECONDS = 10.0  # how long a caller waits for another process's refresh of the same portal
AUDIT_EVERY = timedelta(minutes=1)


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

    def __init__(self, per_minute: int, storage: Storage | None = None) -> None:
        self.per_minute = per_minute
        self._windows = WindowLimiter(storage if storage is not None else WindowMemoryStorage())

    def take(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds until it may (``Retry-After``).

        ``now`` is accepted for compatibility and ignored: the window's clock is the storage's.
        """
        return self._windows.take("api-key", key, limit=self.per_minute, window_s=60)


class TokenApi:
    """The token API's core for one server process (its rate limiter and audit throttle live here)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.limiter = RateLimiter(ctx.settings.dashboard_api_rate_per_minute, build_storage(ctx.settings))
        self._audited: dict[tuple[str, int | None, str], datetime] = {}
        self._audit_lock = threading.Lock()

    def check_rate(self, key: ApiKeyInfo) -> None:
        wait = self.limiter.take(key.prefix)
        if wait > 0:
            raise ApiRateLimitedError(f"API key {key.prefix} is over its rate of "
                                      f"{self.ctx.settings.dashboard_api_rate_per_minute} requests a minute",
                                      retry_after=wait)

    def _audit_read(self, key: ApiKeyInfo, action: str, hub_id: int | None) -> None:
        """At most one audit row per key, portal and minute for reads."""
        now = utcnow()
        slot = (key.prefix, hub_id, action)
        with self._audit_lock:
            last = self._audited.get(slot)
            if last is not None and now - last < AUDIT_EVERY:
                return
            self._audited[slot] = now
        with self.ctx.session() as session, self.ctx.writing():
            if repository.recent_audit_exists(session=session, actor=key.actor_name, action=action, hub_id=hub_id,
                                              since=now - AUDIT_EVERY):
                return  # another server process wrote it
            audit.record(session, actor=key.actor_name, action=action, outcome="success", hub_id=hub_id,
                         detail=f"key {key.prefix}")
            session.commit()

    def list_portals(self, key: ApiKeyInfo) -> list[dict[str, Any]]:
        """Portals this key may see: hub id, domain, status, granted scopes, expiry. No token material."""
        with self.ctx.session() as session:
            rows = repository.list_portal_rows(session=session)
        self._audit_read(key, "api.portals", None)
        return [{"hub_id": r["hub_id"], "hub_domain": r["hub_domain"], "status": r["status"],
                 "granted_scopes": r["granted_scopes"].split(),
                 "expires_at": r["expires_at"].isoformat() if r["expires_at"] else None}
                for r in rows if key.allows(int(r["hub_id"]))]

    def _portal(self, key: ApiKeyInfo, hub_id: int) -> Portal:
        if not key.allows(hub_id):  # the same answer as for an unknown portal: no probing of hub ids
            raise NotFoundError(f"no portal {hub_id} for this API key")
        with self.ctx.session() as session:
            portal = repository.get_portal(session=session, hub_id=hub_id)
        if portal is None:
            raise NotFoundError(f"no portal {hub_id} for this API key")
        return portal

    @staticmethod
    def _usable(portal: Portal) -> None:
        if portal.status == PortalStatus.REVOKED or portal.refresh_token_ct is None:
            raise PortalRevokedError(f"portal {portal.hub_id} was revoked; reinstall it")
        if portal.status == PortalStatus.NEEDS_REAUTH:
            raise PortalUnavailableError(f"portal {portal.hub_id} needs re-authorization: install it again",
                                         code="needs_reauth")

    def _needs_refresh(self, portal: Portal) -> bool:
        leeway = timedelta(seconds=self.ctx.settings.dashboard_refresh_leeway_seconds)
        return portal.expires_at is None or portal.expires_at <= utcnow() + leeway

    def _refreshed_row(self, key: ApiKeyInfo, portal: Portal) -> Portal:
        """Refresh under the lease, or wait (bounded) for whoever holds it; the row with the new tokens."""
        started = time.monotonic()
        actor = Actor(key.actor_name, OPERATOR)
        outcome = refresh.refresh_portal(self.ctx, portal.hub_id, actor=actor)
        metrics.record_refresh(outcome.result, time.monotonic() - started)
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

    def access_token(self, key: ApiKeyInfo, hub_id: int) -> AccessToken:
        """A valid access token and its expiry; refreshed first when it expires within the leeway."""
        portal = self._portal(key, hub_id)
        self._usable(portal)
        if self._needs_refresh(portal):
            portal = self._refreshed_row(key, portal)
        try:
            tokens = vault.open_tokens(self.ctx.cipher, portal)
        except KeyNotFoundError as exc:
            raise PortalUnavailableError(f"portal {hub_id}: its tokens use key {portal.key_id}, which is not "
                                         "configured (DASHBOARD_ENCRYPTION_KEYS)", code="key_missing") from exc
        except CryptoError as exc:
            raise PortalUnavailableError(f"portal {hub_id}: its stored tokens cannot be decrypted; reinstall it",
                                         code="undecryptable") from exc
        self._audit_read(key, "api.token", hub_id)
        assert portal.expires_at is not None  # a stored token pair always has an expiry
        return AccessToken(hub_id, tokens.access_token, portal.expires_at)

    def force_refresh(self, key: ApiKeyInfo, hub_id: int) -> refresh.RefreshOutcome:
        """A refresh now, whatever the expiry (operator keys only)."""
        if key.role != OPERATOR:
            raise PermissionDeniedError(f"API key {key.prefix} is a reader key; forcing a refresh needs an "
                                        "operator key")
        portal = self._portal(key, hub_id)
        self._usable(portal)
        started = time.monotonic()
        outcome = refresh.refresh_portal(self.ctx, hub_id, actor=Actor(key.actor_name, OPERATOR), force=True)
        metrics.record_refresh(outcome.result, time.monotonic() - started)
        if outcome.result == "needs_reauth":
            raise PortalUnavailableError(f"portal {hub_id} needs re-authorization: install it again",
                                         code="needs_reauth")
        if outcome.result == "skipped":
            self._usable(self._portal(key, hub_id))
        if outcome.result == "failed":
            raise TransientError(f"HubSpot did not refresh portal {hub_id}; try again shortly")
        return outcome
