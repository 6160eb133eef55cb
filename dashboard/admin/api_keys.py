"""Service API keys for the token API: created by admins, shown once, stored as a SHA-256 with a public prefix.

A key reads ``hsd_<prefix>_<secret>``. The prefix (10 hex characters) is its public id: it names the key in
``api-keys list`` and ``revoke``, in the audit log (``api:NAME``) and in rate limiting. Only the SHA-256 of the
whole key is stored: the secret has 256 random bits, so a plain hash is enough (no password stretching), and
checking a key costs one indexed read and one hash. Role ``reader`` gets tokens; ``operator`` may also
force a refresh. An optional list of hub ids restricts a key to those portals (each of one app: stored as
``app:hub_id``; bare hub ids, written before apps, are the default app's); an optional app restricts it to that
app's portals (403 on another's); a read-only key sends only GET and HEAD through the HubSpot proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import ApiKeyError, InputError, NotFoundError, PermissionDeniedError
from dashboard.hubspot.hub_ids import check_hub_id
from dashboard.models import ApiKey, utcnow
from dashboard.security import audit
from dashboard.security.guard import require

READER, OPERATOR = "reader", "operator"
KEY_ROLES = (READER, OPERATOR)
_KEY = re.compile(r"^hsd_([0-9a-f]{10})_[A-Za-z0-9_-]{43}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeyInfo:
    """What leaves the core about a key: never the key, never its hash."""

    prefix: str
    name: str
    role: str
    hub_ids: tuple[int, ...]
    created_by: str
    created_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    read_only: bool = False  # GET/HEAD only through the HubSpot proxy
    app: str | None = None  # the one app this key may act on (None: every app)
    portals: frozenset[tuple[str, int]] = frozenset()  # (app, hub id) of each portal the key is limited to

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def allows_app(self, app: str) -> bool:
        return self.app is None or self.app == app

    def allows(self, hub_id: int, *, app: str) -> bool:
        """May read ``app``'s portal ``hub_id``: the same hub id in another app is another portal."""
        return self.allows_app(app) and (not self.portals or (app, hub_id) in self.portals)

    @property
    def actor_name(self) -> str:
        return f"api:{self.name}"


def check_portal(key: ApiKeyInfo, hub_id: int | None, *, app: str) -> None:
    """Refuse a key restricted to another app (:class:`PermissionDeniedError`, HTTP 403) or to other portals
    (:class:`NotFoundError`: the same answer as for an unknown portal, so hub ids cannot be probed)."""
    if not key.allows_app(app):
        raise PermissionDeniedError(f"API key {key.prefix} is restricted to app {key.app}, not {app}")
    if hub_id is not None and not key.allows(hub_id, app=app):
        raise NotFoundError(f"no portal {hub_id} for this API key")


@dataclass(frozen=True)
class CreatedKey:
    """The new key, to be shown once; ``__repr__`` hides it."""

    key: str
    info: ApiKeyInfo

    def __repr__(self) -> str:
        return f"CreatedKey(prefix={self.info.prefix!r}, name={self.info.name!r})"


def _portal(entry: str, default_app: str) -> tuple[str, int]:
    app, _, hub = entry.rpartition(":")
    return app or default_app, int(hub)


def _info(row: ApiKey, default_app: str) -> ApiKeyInfo:
    portals = [_portal(e, default_app) for e in row.hub_ids.split()] if row.hub_ids else []
    return ApiKeyInfo(row.prefix, row.name, row.role, tuple(h for _, h in portals), row.created_by,
                      row.created_at, row.expires_at, row.last_used_at, row.revoked_at, bool(row.read_only),
                      app=row.app, portals=frozenset(portals))


def create_key(ctx: AppContext, *, actor: Actor, name: str, role: str = READER, hub_ids: Sequence[int] = (),
               expires_in: timedelta | None = None, read_only: bool = False, app: str | None = None) -> CreatedKey:
    """A new key (admins only). The returned ``key`` is the only copy: it is stored as a hash.

    ``app`` restricts the key to that app; ``hub_ids`` are portals of ``app`` (else of ``ctx``'s app)."""
    require(ctx.engine, actor, "settings", action="api_keys.create")
    if app is not None:
        ctx.settings.check_app(app)  # one line listing the apps; nothing written
    name = name.strip()
    if not _NAME.match(name):
        raise InputError("an API key name is 1-80 letters, digits, spaces, dots, dashes or underscores")
    if role not in KEY_ROLES:
        raise InputError(f"an API key role is one of {', '.join(KEY_ROLES)}, not {role[:20]!r}")
    hub_ids = [check_hub_id(h) for h in hub_ids]  # nothing outside 1..2**63-1 is written
    if expires_in is not None and expires_in <= timedelta(0):
        raise InputError("an API key's lifetime must be positive")
    prefix = secrets.token_hex(5)
    key = f"hsd_{prefix}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    portal_app = app or ctx.app_id
    row = ApiKey(prefix=prefix, key_hash=_hash(key), name=name, role=role, app=app,
                 hub_ids=" ".join(f"{portal_app}:{h}" for h in sorted(set(hub_ids))), created_by=actor.name[:320],
                 created_at=now, expires_at=now + expires_in if expires_in else None, read_only=read_only)
    with ctx.session() as session, ctx.writing():
        repository.add_api_key(session=session, key=row)
        audit.record(session, actor=actor.name, action="api_keys.create", outcome="success",
                     detail=f"key {prefix} ({name}), role {role}{', read-only' if read_only else ''}, "
                     f"{'app ' + app + ', ' if app else ''}"
                     f"{'portals ' + row.hub_ids if row.hub_ids else 'every portal'}"
                     f"{', expires ' + row.expires_at.isoformat(timespec='seconds') if row.expires_at else ''}")
        session.commit()
    return CreatedKey(key, _info(row, ctx.settings.default_app_id))


def list_keys(ctx: AppContext, *, actor: Actor) -> list[ApiKeyInfo]:
    require(ctx.engine, actor, "settings", action="api_keys.list")
    with ctx.session() as session:
        return [_info(r, ctx.settings.default_app_id) for r in repository.list_api_keys(session=session)]


def revoke_key(ctx: AppContext, *, actor: Actor, prefix: str) -> None:
    require(ctx.engine, actor, "settings", action="api_keys.revoke")
    prefix = prefix.strip().removeprefix("hsd_")[:10]
    with ctx.session() as session, ctx.writing():
        existing = repository.get_api_key(session=session, prefix=prefix)
        if existing is None:
            raise NotFoundError(f"no API key with prefix {prefix!r}")
        if repository.revoke_api_key(session=session, prefix=prefix, now=utcnow()):
            audit.record(session, actor=actor.name, action="api_keys.revoke", outcome="success",
                         detail=f"key {prefix} ({existing.name})")
        session.commit()


def authenticate(ctx: AppContext, authorization: str | None, *, now: datetime | None = None) -> ApiKeyInfo:
    """The key behind an ``Authorization: Bearer <key>`` header, or :class:`ApiKeyError` (HTTP 401).

    The message says which of missing / malformed / unknown / revoked / expired it is, never the key.
    ``last_used_at`` is written at most once a minute per key (a read-mostly hot path stays read-only).
    """
    now = now or utcnow()
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiKeyError("send the API key as 'Authorization: Bearer <key>'")
    match = _KEY.match(key.strip())
    if match is None:
        raise ApiKeyError("this is not a dashboard API key (they start with hsd_)")
    with ctx.session() as session:
        row = repository.get_api_key(session=session, prefix=match.group(1))
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key.strip())):
        raise ApiKeyError("unknown API key")
    info = _info(row, ctx.settings.default_app_id)
    state = info.state(now)
    if state != "active":
        raise ApiKeyError(f"API key {info.prefix} is {state}")
    if info.last_used_at is None or info.last_used_at < now - timedelta(minutes=1):
        with ctx.session() as session, ctx.writing():
            repository.touch_api_key(session=session, prefix=info.prefix, now=now,
                                     not_since=now - timedelta(minutes=1))
            session.commit()
    return info


KEY_CACHE_SECONDS = 2.0  # a revoked or expired key is refused by every process within this (+ one request)


class KeyCache:
    """Keys this process authenticated in the last :data:`KEY_CACHE_SECONDS`: the token API's hot path
    checks a key with one hash and no database read. Revocation and expiry reach every replica within
    that time (each entry is re-read from the database when it is older; expiry is also checked per use).
    Only successes are kept, by prefix, with the stored hash: a wrong secret for a cached prefix still fails.
    """

    def __init__(self, ctx: AppContext, ttl: float = KEY_CACHE_SECONDS) -> None:
        self.ctx = ctx
        self.ttl = ttl
        self._entries: dict[str, tuple[str, ApiKeyInfo, float]] = {}

    def cached(self, authorization: str | None) -> ApiKeyInfo | None:
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        match = _KEY.match(key) if scheme.lower() == "bearer" else None
        entry = self._entries.get(match.group(1)) if match else None
        if entry is None or time.monotonic() - entry[2] > self.ttl:
            return None
        key_hash, info, _ = entry
        if not hmac.compare_digest(key_hash, _hash(key)) or info.state(utcnow()) != "active":
            return None  # the full check says why
        return info

    def authenticate(self, authorization: str | None) -> ApiKeyInfo:
        """:func:`authenticate` (a database read), remembering a success."""
        fetched = time.monotonic()
        info = authenticate(self.ctx, authorization)
        key = (authorization or "").partition(" ")[2].strip()
        if len(self._entries) > 10_000:  # bounded: keys are few; a flood of distinct valid keys is not a case
            self._entries.clear()
        self._entries[info.prefix] = (_hash(key), info, fetched)
        return info
