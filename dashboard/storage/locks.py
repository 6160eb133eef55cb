"""Per-portal refresh leases that hold across processes.

Our UI, CLI and workers are separate processes, so a process-local lock would protect nothing. The
default lease lives in the portal row (conditional UPDATE with an owner token and an expiry); with
``DASHBOARD_LOCK_URL`` it lives in Redis (set if free or ours, with an expiry; compare-and-delete release).
Either way the lease expires on its own, so a worker killed mid-refresh never blocks a portal for good.

A Redis lease also takes the row's lease (``marks_row``): in a rolling deploy from database leases to Redis
(or back) both kinds of worker run on one database, and the row is the only lock both see. Without it they
refreshed the same portal at the same moment: two grants, and with strict rotation an ``invalid_grant`` that
marked a healthy portal ``needs_reauth``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import repository
from dashboard.errors import ConfigurationError, StorageError
from dashboard.models import DEFAULT_APP, utcnow
from dashboard.storage.db import storage_errors

# Compare-and-delete: only the owner may release (an expired lease may belong to someone else by now).
_RELEASE_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
# Take a free lease, or extend one this owner holds (as the row lease does): renewing the lease of tokens held in
# memory must not need a release first.
_ACQUIRE_LUA = ("local v = redis.call('get', KEYS[1]) "
                "if not v then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
                "if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end return 0")


class LeaseProvider(Protocol):
    name: str
    # True when the lease lives in the portal row: a sweep may claim many rows in one UPDATE and release
    # a lease in the same UPDATE that stores the refreshed tokens.
    in_row: bool
    # True when holding a lease also means holding the row's lease (every provider the context builds): a
    # refresh may then publish needs_reauth only while the row is still leased to it.
    marks_row: bool

    def acquire(self, hub_id: int, owner: str, ttl: timedelta) -> bool: ...

    def release(self, hub_id: int, owner: str) -> None: ...


class DatabaseLeases:
    """Leases in the ``portal`` row: ``lease_owner`` / ``lease_expires_at``."""

    name = "database"
    in_row = True
    marks_row = True

    def __init__(self, engine: Engine, *, app: str = DEFAULT_APP) -> None:
        self._engine = engine
        self._info = {"app": app}  # the row is the connection (app, hub id): see repository.session_app

    def acquire(self, hub_id: int, owner: str, ttl: timedelta) -> bool:
        with storage_errors(), Session(self._engine, info=self._info) as session:
            ok = repository.try_acquire_lease(session=session, hub_id=hub_id, owner=owner, now=utcnow(), ttl=ttl)
            session.commit()
            return ok

    def release(self, hub_id: int, owner: str) -> None:
        with storage_errors(), Session(self._engine, info=self._info) as session:
            repository.release_lease(session=session, hub_id=hub_id, owner=owner)
            session.commit()


class RedisLeases:
    """Leases in Redis under ``{prefix}lease:{app}:{hub_id}``: one per connection (app, hub id)."""

    name = "redis"
    in_row = False

    def __init__(self, url: str, *, prefix: str = "hubspot-dashboard:", app: str = DEFAULT_APP,
                 row: DatabaseLeases | None = None) -> None:
        import redis

        self._row = row  # the row's lease, taken with the Redis one (see the module docstring)
        self.marks_row = row is not None
        try:
            self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        except ValueError:
            raise ConfigurationError("DASHBOARD_LOCK_URL: is not a valid Redis URL") from None
        self._prefix = prefix
        self._app = app
        self._release = self._redis.register_script(_RELEASE_LUA)
        self._acquire = self._redis.register_script(_ACQUIRE_LUA)

    def _key(self, hub_id: int) -> str:
        return f"{self._prefix}lease:{self._app}:{hub_id}"

    def acquire(self, hub_id: int, owner: str, ttl: timedelta) -> bool:
        import redis

        try:
            got = bool(self._acquire(keys=[self._key(hub_id)], args=[owner, max(1, int(ttl.total_seconds() * 1000))]))
        except redis.RedisError as exc:
            raise StorageError(f"the Redis lock server is unreachable ({exc.__class__.__name__})") from exc
        if not got or self._row is None:
            return got
        try:
            if self._row.acquire(hub_id, owner, ttl):
                return True
        except StorageError:
            self._release_redis(hub_id, owner)
            raise
        self._release_redis(hub_id, owner)  # a database-lease worker holds the row
        return False

    def release(self, hub_id: int, owner: str) -> None:
        try:
            if self._row is not None:
                self._row.release(hub_id, owner)
        finally:
            self._release_redis(hub_id, owner)

    def _release_redis(self, hub_id: int, owner: str) -> None:
        import redis

        try:
            self._release(keys=[self._key(hub_id)], args=[owner])
        except redis.RedisError as exc:
            raise StorageError(f"the Redis lock server is unreachable ({exc.__class__.__name__})") from exc

    def close(self) -> None:
        self._redis.close()
