"""All SQL of the dashboard. Keyword-only functions taking a ``session``; the caller commits.

Writes that race with other processes (leases, token stores, key rotation, state consumption) are single
conditional ``UPDATE ... WHERE`` statements whose row count says who won: read-then-write in Python would
lose updates when several workers share the database.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col

from dashboard import status as status_rule
from dashboard.errors import NotFoundError
from dashboard.models import (
    DEFAULT_APP,
    ApiKey,
    AuditEvent,
    InstallAttempt,
    InstallLink,
    PendingInstall,
    Portal,
    PortalScope,
    PortalStatus,
    PortalUpdate,
    ScopeSetRecord,
    UserSignOut,
    WorkerHeartbeat,
)

# Columns a listing may read: never the ciphertexts, so listing 10,000 portals decrypts nothing.
LISTING_COLUMNS = tuple(col(c) for c in (
    Portal.hub_id, Portal.hub_domain, Portal.app_id, Portal.installed_by, Portal.user_id,
    Portal.requested_scopes, Portal.requested_optional_scopes, Portal.granted_scopes, Portal.status,
    Portal.expires_at, Portal.last_refresh_at, Portal.last_refresh_result, Portal.last_error,
    Portal.consecutive_failures, Portal.next_attempt_at, Portal.installed_at, Portal.revoked_at,
    Portal.token_fingerprint, Portal.key_id, Portal.updated_at,
))


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def _write(session: Session, stmt: Any) -> int:
    """Run a conditional UPDATE as Core; its row count. Our sessions hold no objects to synchronize, and the
    ORM's synchronization costs a refresh more than the statement itself (the refresh sweep benchmark)."""
    return _rowcount(session.connection().execute(stmt))


# --- portals -------------------------------------------------------------------------------------------
# A connection is (app, hub_id). The app is the session's (``session.info["app"]``, set by
# AppContext.session from DASHBOARD_APP_ID), so callers keep passing a hub id: one app is configured per
# process, and a second app is configuration, not new signatures.

def session_app(session: Session) -> str:
    """The app this session's hub ids belong to (the default app for sessions made without one)."""
    return str(session.info.get("app", DEFAULT_APP))


def get_portal(*, session: Session, hub_id: int) -> Portal | None:
    return session.get(Portal, (session_app(session), hub_id), populate_existing=True)


def portal_or_not_found(*, session: Session, hub_id: int) -> Portal:
    """The portal row, or :class:`NotFoundError` with the one message every caller shows."""
    portal = get_portal(session=session, hub_id=hub_id)
    if portal is None:
        raise NotFoundError(f"no connected portal with hub id {hub_id}")
    return portal


def save_portal(*, session: Session, portal: Portal) -> None:
    session.add(portal)
    replace_portal_scopes(session=session, hub_id=portal.hub_id, scopes=portal.granted_scopes.split(),
                          app=portal.app)


def portal_filters(
    *, search: str | None = None, statuses: Sequence[str] = (), scope: str | None = None,
    hub_id: int | None = None, exclude_statuses: Sequence[str] = (),
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if exclude_statuses:
        where.append(col(Portal.status).not_in(list(exclude_statuses)))
    if hub_id is not None:
        where.append(col(Portal.hub_id) == hub_id)
    if search and search.strip():
        text = search.strip().lower()
        like = f"%{text.replace('%', '').replace('_', '')}%"
        conds: list[ColumnElement[bool]] = [
            func.lower(col(Portal.hub_domain)).like(like), func.lower(col(Portal.installed_by)).like(like),
        ]
        if text.isdigit():
            conds.append(col(Portal.hub_id) == int(text))
        where.append(or_(*conds))
    if statuses:
        where.append(col(Portal.status).in_(list(statuses)))
    if scope and scope.strip():
        where.append((" " + col(Portal.granted_scopes) + " ").like(f"% {scope.strip()} %"))
    return where


def list_portal_rows(
    *, session: Session, search: str | None = None, statuses: Sequence[str] = (), scope: str | None = None,
    hub_id: int | None = None, limit: int | None = None, offset: int = 0, exclude_statuses: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Portal rows as dicts of :data:`LISTING_COLUMNS`, by hub id."""
    filters = portal_filters(search=search, statuses=statuses, scope=scope, hub_id=hub_id,
                             exclude_statuses=exclude_statuses)
    if hub_id is not None:  # one connection: a primary key lookup
        filters.append(col(Portal.app) == session_app(session))
    stmt = select(*LISTING_COLUMNS).where(*filters)
    stmt = stmt.order_by(col(Portal.hub_id)).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    # Core execution: the ORM's row loading would add ~50% for 10,000 plain column rows.
    result = session.connection().execute(stmt)
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.fetchall()]


def count_portals(
    *, session: Session, search: str | None = None, statuses: Sequence[str] = (), scope: str | None = None,
) -> int:
    stmt = select(func.count()).select_from(Portal)
    stmt = stmt.where(*portal_filters(search=search, statuses=statuses, scope=scope))
    return int(session.execute(stmt).scalar_one())


def _due(now: datetime, within: timedelta, issued_before: datetime | None = None) -> list[ColumnElement[bool]]:
    """Expiring within ``within``, refreshable now (not reauth/revoked/backing off) and not leased.

    ``issued_before``: also leave out portals a refresh succeeded for after that moment (a token that young
    is never refreshed again automatically, whatever the window).
    """
    conds = [
        col(Portal.status).in_([PortalStatus.ACTIVE, PortalStatus.REFRESH_FAILING]),
        col(Portal.refresh_token_ct).is_not(None),
        or_(col(Portal.expires_at).is_(None), col(Portal.expires_at) <= now + within),
        or_(col(Portal.next_attempt_at).is_(None), col(Portal.next_attempt_at) <= now),
        or_(col(Portal.lease_owner).is_(None), col(Portal.lease_expires_at) < now),
    ]
    if issued_before is not None:
        conds.append(or_(col(Portal.last_refresh_at).is_(None), col(Portal.last_refresh_at) <= issued_before,
                         func.coalesce(col(Portal.last_refresh_result), "") != "success"))
    return conds


def due_hub_ids(*, session: Session, now: datetime, within: timedelta, limit: int | None = None,
                issued_before: datetime | None = None) -> list[int]:
    """Portals expiring within ``within`` that may be refreshed now (not reauth/revoked/backing off)."""
    stmt = select(col(Portal.hub_id)).where(col(Portal.app) == session_app(session), *_due(now, within, issued_before)
                                            ).order_by(col(Portal.expires_at))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [int(h) for h in session.execute(stmt).scalars()]


def claim_due_portals(
    *, session: Session, owner: str, now: datetime, within: timedelta, ttl: timedelta, limit: int,
    hub_ids: Sequence[int] | None = None, issued_before: datetime | None = None,
) -> int:
    """Lease up to ``limit`` due portals to ``owner`` in one conditional UPDATE; how many it leased.

    The due conditions (lease free or expired included) are evaluated inside the UPDATE, so two workers
    never claim the same portal; on PostgreSQL the inner select skips rows another claim has locked.
    ``hub_ids`` restricts the claim to those portals (a sweep claims only what was due when it started).
    Read the claimed rows with :func:`portals_leased_to` (after the commit: they stay leased to ``owner``).
    """
    app = col(Portal.app) == session_app(session)  # a sweep refreshes its own app's connections
    where = [app, *_due(now, within, issued_before)]
    if hub_ids is not None:
        where.append(col(Portal.hub_id).in_(list(hub_ids)))
    due = (
        select(col(Portal.hub_id)).where(*where).order_by(col(Portal.expires_at)).limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _write(session, update(Portal)
                  .where(app, col(Portal.hub_id).in_(due.scalar_subquery()),
                         or_(col(Portal.lease_owner).is_(None), col(Portal.lease_expires_at) < now))
                  .values(lease_owner=owner, lease_expires_at=now + ttl))


def portals_leased_to(*, session: Session, owner: str, hub_ids: Sequence[int] | None = None) -> list[Portal]:
    """Rows leased to ``owner``. Give the ``hub_ids`` a claim asked for: then the primary key finds them (no
    index covers lease_owner, and a scan per claimed batch made a 10,000-portal sweep quadratic)."""
    stmt = select(Portal).where(col(Portal.lease_owner) == owner)
    if hub_ids is not None:
        stmt = stmt.where(col(Portal.app) == session_app(session), col(Portal.hub_id).in_(list(hub_ids)))
    stmt = stmt.order_by(col(Portal.expires_at))
    return list(session.execute(stmt.execution_options(populate_existing=True)).scalars())


def try_acquire_lease(
    *, session: Session, hub_id: int, owner: str, now: datetime, ttl: timedelta,
) -> bool:
    """Take the portal's refresh lease when it is free or expired. True when this owner got it."""
    stmt = (
        update(Portal)
        .where(
            col(Portal.app) == session_app(session), col(Portal.hub_id) == hub_id,
            or_(col(Portal.lease_owner).is_(None), col(Portal.lease_expires_at) < now,
                col(Portal.lease_owner) == owner),
        )
        .values(lease_owner=owner, lease_expires_at=now + ttl)
    )
    return _write(session, stmt) == 1


def release_lease(*, session: Session, hub_id: int, owner: str) -> None:
    """Release only a lease this owner holds (compare-and-delete)."""
    _write(session, update(Portal)
           .where(col(Portal.app) == session_app(session), col(Portal.hub_id) == hub_id,
                  col(Portal.lease_owner) == owner)
           .values(lease_owner=None, lease_expires_at=None))


# The refresh path's UPDATEs are built once: building and cache-keying a 17-column UPDATE on every call cost
# ten times its execution (bench/refresh_sweep.py). The SET columns come from the parameters' keys.
_PORTAL = Portal.metadata.tables["portal"]
_HELD = _PORTAL.c.lease_owner == bindparam("b_lease_owner")
_RELEASING = {"lease_owner": case((_HELD, None), else_=_PORTAL.c.lease_owner),
              "lease_expires_at": case((_HELD, None), else_=_PORTAL.c.lease_expires_at)}
_COLUMNS = frozenset(_PORTAL.c.keys())
_UPDATE = update(_PORTAL).where(_PORTAL.c.app == bindparam("b_app"), _PORTAL.c.hub_id == bindparam("b_hub_id"))
_UPDATE_IF_VERSION = _UPDATE.where(_PORTAL.c.token_version == bindparam("b_version")).values(
    token_version=_PORTAL.c.token_version + 1)
_UPDATE_AT_VERSION = _UPDATE.where(_PORTAL.c.token_version == bindparam("b_version"))  # no bump: no new tokens
_UPDATES = {  # (only if the version still matches, release a lease) -> statement
    (False, False): _UPDATE, (False, True): _UPDATE.values(**_RELEASING),
    (True, False): _UPDATE_IF_VERSION, (True, True): _UPDATE_IF_VERSION.values(**_RELEASING),
}
_UPDATES_AT_VERSION = {False: _UPDATE_AT_VERSION, True: _UPDATE_AT_VERSION.values(**_RELEASING)}


def _update(session: Session, hub_id: int, values: PortalUpdate, *, version: int | None,
            release_lease_of: str | None, bump: bool = True, app: str | None = None) -> bool:
    unknown = values.keys() - _COLUMNS
    if unknown:  # a parameter that names no column would be dropped silently
        raise ValueError(f"not portal columns: {', '.join(sorted(unknown))}")
    app = app or session_app(session)
    params = {**values, "b_app": app, "b_hub_id": hub_id}
    if version is not None:
        params["b_version"] = version
    if release_lease_of is not None:
        params["b_lease_owner"] = release_lease_of
    stmt = _UPDATES[(version is not None, release_lease_of is not None)] if bump or version is None else \
        _UPDATES_AT_VERSION[release_lease_of is not None]
    stored = _rowcount(session.connection().execute(stmt, params)) == 1
    if stored and "granted_scopes" in values:
        replace_portal_scopes(session=session, hub_id=hub_id, scopes=str(values["granted_scopes"]).split(),
                              app=app)
    return stored


def update_portal_if_version(
    *, session: Session, hub_id: int, version: int, values: PortalUpdate, release_lease_of: str | None = None,
    app: str | None = None,
) -> bool:
    """Apply ``values`` and bump ``token_version`` only if nobody changed the tokens since ``version``.

    ``release_lease_of`` also releases that owner's database lease in the same statement. ``app``: the row's
    app when it is not the session's (key rotation rewrites every app's rows).
    """
    return _update(session, hub_id, values, version=version, release_lease_of=release_lease_of, app=app)


def update_portal_at_version(
    *, session: Session, hub_id: int, version: int, values: PortalUpdate, release_lease_of: str | None = None,
) -> bool:
    """Apply ``values`` only while the row still holds ``version``, leaving ``token_version`` as it is.

    For writes that store no new tokens (a failed refresh): a failure read at an older version never
    overwrites a newer success, and a success read at this version still applies after it.
    """
    return _update(session, hub_id, values, version=version, release_lease_of=release_lease_of, bump=False)


def update_portal(
    *, session: Session, hub_id: int, values: PortalUpdate, release_lease_of: str | None = None,
) -> bool:
    return _update(session, hub_id, values, version=None, release_lease_of=release_lease_of)


def status_counts(*, session: Session) -> dict[str, int]:
    stmt = select(col(Portal.status), func.count()).group_by(col(Portal.status))
    return {str(s): int(n) for s, n in session.execute(stmt)}


def expiry_times(*, session: Session, statuses: Sequence[str]) -> list[datetime]:
    stmt = select(col(Portal.expires_at)).where(col(Portal.status).in_(list(statuses)),
                                           col(Portal.expires_at).is_not(None))
    return [t for t in session.execute(stmt).scalars() if t is not None]


# --- keys ----------------------------------------------------------------------------------------------

def rows_per_key(*, session: Session) -> dict[str, int]:
    stmt = (
        select(col(Portal.key_id), func.count())
        .where(col(Portal.key_id).is_not(None))
        .group_by(col(Portal.key_id))
    )
    return {str(k): int(n) for k, n in session.execute(stmt)}


def first_portal_on_key(*, session: Session, key_id: str) -> Portal | None:
    stmt = select(Portal).where(col(Portal.key_id) == key_id).order_by(col(Portal.hub_id)).limit(1)
    return session.execute(stmt).scalars().first()


def portals_not_on_key(*, session: Session, key_id: str, limit: int, after_hub_id: int | None = None,
                       binding: int | None = None, after_app: str = "") -> list[Portal]:
    """Rows of every app on another key (or, given ``binding``, bound by an older version), by (hub id, app);
    ``after_hub_id``/``after_app`` page on (keyset) past rows a caller skipped."""
    stale = col(Portal.key_id) != key_id
    if binding is not None:
        stale = or_(stale, col(Portal.binding) != binding)
    stmt = (
        select(Portal)
        .where(col(Portal.key_id).is_not(None), stale)
        .order_by(col(Portal.hub_id), col(Portal.app))
        .limit(limit)
    )
    if after_hub_id is not None:
        stmt = stmt.where(or_(col(Portal.hub_id) > after_hub_id,
                              and_(col(Portal.hub_id) == after_hub_id, col(Portal.app) > after_app)))
    return list(session.execute(stmt).scalars())


def portals_with_tokens(*, session: Session, limit: int, after_hub_id: int | None = None,
                        after_app: str = "") -> list[Portal]:
    """Rows of every app holding tokens, by (hub id, app), a page at a time (keyset)."""
    stmt = (select(Portal).where(col(Portal.key_id).is_not(None))
            .order_by(col(Portal.hub_id), col(Portal.app)).limit(limit))
    if after_hub_id is not None:
        stmt = stmt.where(or_(col(Portal.hub_id) > after_hub_id,
                              and_(col(Portal.hub_id) == after_hub_id, col(Portal.app) > after_app)))
    return list(session.execute(stmt).scalars())


# --- install attempts ----------------------------------------------------------------------------------

def add_install_attempt(*, session: Session, attempt: InstallAttempt) -> None:
    attempt.app = session_app(session)
    session.add(attempt)


def get_install_attempt(*, session: Session, state_hash: str) -> InstallAttempt | None:
    # A state made for another app's install is not this app's to finish.
    stmt = select(InstallAttempt).where(col(InstallAttempt.state_hash) == state_hash,
                                        col(InstallAttempt.app) == session_app(session))
    return session.execute(stmt).scalars().first()


def consume_install_attempt(*, session: Session, attempt_id: int, now: datetime) -> bool:
    """Mark the attempt used; False when another request used or it expired first (single use)."""
    stmt = (
        update(InstallAttempt)
        .where(
            col(InstallAttempt.id) == attempt_id,
            col(InstallAttempt.consumed_at).is_(None),
            col(InstallAttempt.expires_at) > now,
        )
        .values(consumed_at=now)
    )
    return _rowcount(session.execute(stmt)) == 1


def purge_install_attempts(*, session: Session, before: datetime) -> int:
    stmt = delete(InstallAttempt).where(col(InstallAttempt.expires_at) < before)
    return _rowcount(session.execute(stmt))


# --- audit ---------------------------------------------------------------------------------------------

_INSERT_AUDIT = insert(AuditEvent.metadata.tables["audit_event"])


def add_audit_event(*, session: Session, event: AuditEvent) -> None:
    """Insert at once, in the caller's transaction (a prebuilt INSERT: the ORM flush cost a refresh more)."""
    session.connection().execute(_INSERT_AUDIT, {"at": event.at, "app": session_app(session),
                                                 "actor": event.actor, "hub_id": event.hub_id,
                                                 "action": event.action, "outcome": event.outcome,
                                                 "detail": event.detail})


def list_audit_events(
    *, session: Session, hub_id: int | None = None, action: str | None = None, outcome: str | None = None,
    actor: str | None = None, since: datetime | None = None, until: datetime | None = None,
    limit: int = 500,
) -> list[AuditEvent]:
    conds: list[ColumnElement[bool]] = []
    if hub_id is not None:
        conds.extend([col(AuditEvent.hub_id) == hub_id, col(AuditEvent.app) == session_app(session)])
    if action:
        conds.append(col(AuditEvent.action) == action)
    if outcome:
        conds.append(col(AuditEvent.outcome) == outcome)
    if actor:
        conds.append(col(AuditEvent.actor) == actor)
    if since is not None:
        conds.append(col(AuditEvent.at) >= since)
    if until is not None:
        conds.append(col(AuditEvent.at) <= until)
    stmt = select(AuditEvent).where(*conds).order_by(col(AuditEvent.id).desc()).limit(limit)
    return list(session.execute(stmt).scalars())


# --- scope sets ----------------------------------------------------------------------------------------

def get_scope_set(*, session: Session, name: str) -> ScopeSetRecord | None:
    stmt = select(ScopeSetRecord).where(col(ScopeSetRecord.name) == name)
    return session.execute(stmt).scalars().first()


def list_scope_sets(*, session: Session) -> list[ScopeSetRecord]:
    return list(session.execute(select(ScopeSetRecord).order_by(col(ScopeSetRecord.name))).scalars())


def save_scope_set(*, session: Session, record: ScopeSetRecord) -> None:
    session.add(record)


def delete_scope_set(*, session: Session, name: str) -> bool:
    return _rowcount(session.execute(delete(ScopeSetRecord).where(col(ScopeSetRecord.name) == name))) == 1


# --- worker heartbeats ---------------------------------------------------------------------------------

def save_heartbeat(*, session: Session, worker_id: str, values: dict[str, Any]) -> None:
    """Update the worker's row, or insert it on its first write (one writer per worker id: no race)."""
    table = WorkerHeartbeat.metadata.tables["worker_heartbeat"]
    stmt = update(table).where(table.c.worker_id == worker_id).values(**values)
    if _write(session, stmt) == 0:
        session.connection().execute(insert(table).values(worker_id=worker_id, **values))


def list_heartbeats(*, session: Session, limit: int = 100) -> list[WorkerHeartbeat]:
    """Workers, the most recent sweep first (never-swept ones last)."""
    stmt = (select(WorkerHeartbeat)
            .order_by(col(WorkerHeartbeat.last_sweep_ended_at).is_(None),
                      col(WorkerHeartbeat.last_sweep_ended_at).desc())
            .limit(limit))
    return list(session.execute(stmt).scalars())


def delete_heartbeats_before(*, session: Session, before: datetime) -> int:
    """Forget workers silent since ``before`` (stopped or dead long ago)."""
    stmt = delete(WorkerHeartbeat).where(
        func.coalesce(col(WorkerHeartbeat.last_sweep_ended_at), col(WorkerHeartbeat.started_at)) < before)
    return _rowcount(session.execute(stmt))


# --- API keys ------------------------------------------------------------------------------------------

def add_api_key(*, session: Session, key: ApiKey) -> None:
    session.add(key)


def get_api_key(*, session: Session, prefix: str) -> ApiKey | None:
    stmt = select(ApiKey).where(col(ApiKey.prefix) == prefix)
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().first()


def list_api_keys(*, session: Session) -> list[ApiKey]:
    return list(session.execute(select(ApiKey).order_by(col(ApiKey.created_at), col(ApiKey.id))).scalars())


def revoke_api_key(*, session: Session, prefix: str, now: datetime) -> bool:
    stmt = update(ApiKey).where(col(ApiKey.prefix) == prefix, col(ApiKey.revoked_at).is_(None)).values(revoked_at=now)
    return _write(session, stmt) == 1


def touch_api_key(*, session: Session, prefix: str, now: datetime, not_since: datetime) -> bool:
    """Set ``last_used_at`` unless it is already later than ``not_since`` (one write per key and minute)."""
    stmt = update(ApiKey).where(col(ApiKey.prefix) == prefix,
                                or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < not_since)
                                ).values(last_used_at=now)
    return _write(session, stmt) == 1


def recent_audit_exists(*, session: Session, actor: str, action: str, hub_id: int | None, since: datetime) -> bool:
    stmt = select(col(AuditEvent.id)).where(col(AuditEvent.actor) == actor, col(AuditEvent.action) == action,
                                            col(AuditEvent.at) >= since)
    stmt = stmt.where(col(AuditEvent.hub_id).is_(None) if hub_id is None else col(AuditEvent.hub_id) == hub_id)
    return session.execute(stmt.limit(1)).first() is not None


def earliest_expiry(*, session: Session, statuses: Sequence[str]) -> datetime | None:
    stmt = select(func.min(col(Portal.expires_at))).where(col(Portal.status).in_(list(statuses)))
    value = session.execute(stmt).scalar_one_or_none()
    return value if isinstance(value, datetime) or value is None else None


def ping(*, session: Session) -> None:
    """One round trip to the database (readiness)."""
    session.execute(select(func.count()).select_from(WorkerHeartbeat))


# --- pending installs ------------------------------------------------------------------------------------

def add_pending_install(*, session: Session, record: PendingInstall) -> None:
    record.app = session_app(session)
    session.add(record)


def get_pending_install(*, session: Session, pending_id: int) -> PendingInstall | None:
    record = session.get(PendingInstall, pending_id, populate_existing=True)
    return record if record is not None and record.app == session_app(session) else None


def list_pending_installs(*, session: Session) -> list[PendingInstall]:
    stmt = select(PendingInstall).where(col(PendingInstall.app) == session_app(session)).order_by(
        col(PendingInstall.id))
    return list(session.execute(stmt.execution_options(populate_existing=True)).scalars())


def note_pending_failure(*, session: Session, pending_id: int, error: str, now: datetime) -> None:
    _write(session, update(PendingInstall).where(col(PendingInstall.id) == pending_id).values(
        attempts=PendingInstall.attempts + 1, last_error=error, updated_at=now))


def delete_pending_install(*, session: Session, pending_id: int) -> bool:
    """Remove a finished pending install; False when another process finished it first."""
    return _rowcount(session.connection().execute(
        delete(PendingInstall).where(col(PendingInstall.id) == pending_id))) == 1


# --- sendable install links ----------------------------------------------------------------------------

def add_install_link(*, session: Session, link: InstallLink) -> None:
    link.app = session_app(session)
    session.add(link)


def get_install_link(*, session: Session, link_id: int | None = None, link_hash: str | None = None,
                     ) -> InstallLink | None:
    stmt = select(InstallLink).where(col(InstallLink.id) == link_id if link_id is not None
                                     else col(InstallLink.link_hash) == link_hash,
                                     col(InstallLink.app) == session_app(session))
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().first()


def list_install_links(*, session: Session, limit: int = 200) -> list[InstallLink]:
    stmt = (select(InstallLink).where(col(InstallLink.app) == session_app(session))
            .order_by(col(InstallLink.created_at).desc(), col(InstallLink.id).desc()).limit(limit))
    return list(session.execute(stmt).scalars())


def claim_install_link(*, session: Session, link_id: int, now: datetime) -> bool:
    """Mark the link used for the install under way; False when it was used, revoked or expired first."""
    stmt = (update(InstallLink)
            .where(col(InstallLink.id) == link_id, col(InstallLink.used_at).is_(None),
                   col(InstallLink.revoked_at).is_(None), col(InstallLink.expires_at) > now)
            .values(used_at=now))
    return _rowcount(session.execute(stmt)) == 1


def finish_install_link(*, session: Session, link_id: int, hub_id: int | None) -> None:
    """After the code exchange: record the portal (``hub_id``), or give the link back (None: it failed)."""
    values: dict[str, Any] = {"used_hub_id": hub_id} if hub_id is not None else {"used_at": None}
    session.execute(update(InstallLink).where(col(InstallLink.id) == link_id).values(**values))


def revoke_install_link(*, session: Session, link_id: int, now: datetime, by: str) -> bool:
    stmt = (update(InstallLink)
            .where(col(InstallLink.id) == link_id, col(InstallLink.revoked_at).is_(None),
                   col(InstallLink.used_at).is_(None), col(InstallLink.expires_at) > now)
            .values(revoked_at=now, revoked_by=by))
    return _rowcount(session.execute(stmt)) == 1


# --- sign-out epochs -----------------------------------------------------------------------------------

def get_sign_out(*, session: Session, email: str) -> UserSignOut | None:
    return session.get(UserSignOut, email, populate_existing=True)


def bump_sign_out(*, session: Session, email: str, now: datetime) -> None:
    """Start a new session epoch for ``email``: cookies issued before ``now`` stop working."""
    stmt = (update(UserSignOut).where(col(UserSignOut.email) == email)
            .values(epoch=UserSignOut.epoch + 1, signed_out_at=now))
    if _rowcount(session.execute(stmt)) == 0:
        session.add(UserSignOut(email=email, epoch=1, signed_out_at=now))


# --- connections listing (the Connections page, the CLI, the token API) --------------------------------
# The database does the counting: a page's cost is one page and a few index scans, whatever the number of
# portals. The display status is dashboard.status.display_status written as a CASE, evaluated at the one
# instant ``now`` the caller passes to every query of a page.

_SCOPES = PortalScope.metadata.tables["portal_scope"]


def display_status_sql(now: datetime, leeway: timedelta) -> ColumnElement[str]:
    """``dashboard.status.display_status`` as SQL (a hypothesis test holds the two equal)."""
    expires = col(Portal.expires_at)
    return case(
        (col(Portal.status) != status_rule.ACTIVE, col(Portal.status)),
        (col(Portal.last_refresh_result).in_(status_rule.KEY_PROBLEMS), col(Portal.last_refresh_result)),
        (or_(expires.is_(None), expires <= now), "expired"),
        (expires <= now + leeway, "expiring"),
        else_="healthy",
    )


_KNOWN_STORED = (status_rule.ACTIVE, PortalStatus.NEEDS_REAUTH, PortalStatus.REFRESH_FAILING, PortalStatus.REVOKED,
                 PortalStatus.UNINSTALLED, *status_rule.KEY_PROBLEMS)


@dataclass(frozen=True)
class Segment:
    """A run of one sort order: the rows matching any of ``parts`` (each a list of WHERE terms one index
    range serves), in ``order``. A segment of several parts is ordered by hub id only. ``statuses``: the
    display statuses its rows can have (a status filter skips the other segments)."""

    statuses: frozenset[str]
    parts: list[list[ColumnElement[bool]]]
    order: list[Any]


def _freshness_rows() -> list[ColumnElement[bool]]:
    """Active portals without a key problem: their display status is decided by expires_at alone."""
    result = col(Portal.last_refresh_result)
    return [col(Portal.status) == status_rule.ACTIVE,
            or_(result.is_(None), result.not_in(status_rule.KEY_PROBLEMS))]


def status_predicate(status: str, now: datetime, leeway: timedelta) -> ColumnElement[bool]:
    """Rows whose display status at ``now`` is ``status``, written so an index range serves it (the CASE of
    :func:`display_status_sql` would make every filter a scan). ``"other"``: stored statuses nobody knows."""
    stored, expires = col(Portal.status), col(Portal.expires_at)
    if status in status_rule.KEY_PROBLEMS:
        return or_(stored == status, and_(stored == status_rule.ACTIVE, col(Portal.last_refresh_result) == status))
    if status == "expired":  # two ranges of ix_portal_view, not one OR over every active row
        return or_(and_(*_freshness_rows(), expires.is_(None)), and_(*_freshness_rows(), expires <= now))
    if status == "expiring":
        return and_(*_freshness_rows(), expires > now, expires <= now + leeway)
    if status == "healthy":
        return and_(*_freshness_rows(), expires > now + leeway)
    if status == "other":
        return stored.not_in(_KNOWN_STORED)
    return stored == status


def normalize_search(text: str | None) -> str:
    """What a person pastes, reduced to what is stored: ``https://wayne.hubspot.com/contacts`` -> the domain."""
    text = (text or "").strip().lower()
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix):].split("/", 1)[0]
    return text.rstrip("/")


def listing_filters(*, now: datetime, leeway: timedelta, search: str | None = None,
                    statuses: Sequence[str] = (), scope: str | None = None,
                    app: str = DEFAULT_APP) -> list[ColumnElement[bool]]:
    """WHERE terms: search (hub id, domain or email), display statuses at ``now``, granted scope."""
    where: list[ColumnElement[bool]] = []
    text = normalize_search(search)
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        conds: list[ColumnElement[bool]] = [
            func.lower(col(Portal.hub_domain)).like(like), func.lower(col(Portal.installed_by)).like(like),
        ]
        if text.isdigit() and len(text) < 19:
            conds.append(col(Portal.hub_id) == int(text))
        where.append(or_(*conds))
    if not statuses:  # uninstalled portals are listed only when a status filter asks for them
        where.append(col(Portal.status).not_in(list(status_rule.HIDDEN_BY_DEFAULT)))
    if statuses and text:  # a search reads every row anyway: one CASE per row beats an index walk + lookups
        where.append(display_status_sql(now, leeway).in_([*statuses]))
    elif statuses:
        where.append(or_(*(status_predicate(s, now, leeway) for s in statuses)))
    if scope and scope.strip():
        # Correlated: the sort's index drives and each row probes portal_scope's primary key (app, scope,
        # hub_id), so a page stops after its rows instead of first collecting every portal with the scope.
        # ``app`` is the listing's app as a constant: comparing portal.app (the row's last column) per row
        # made a filtered scan of 100,000 portals twice as slow.
        where.append(select(_SCOPES.c.hub_id).where(_SCOPES.c.app == app,
                                                    _SCOPES.c.scope == scope.strip(),
                                                    _SCOPES.c.hub_id == col(Portal.hub_id)).exists())
    return where


def _status_parts(status: str, now: datetime, leeway: timedelta) -> list[list[ColumnElement[bool]]]:
    """:func:`status_predicate` as index ranges (an OR of them makes SQLite scan the primary key)."""
    stored = col(Portal.status)
    if status in status_rule.KEY_PROBLEMS:
        return [[stored == status], [stored == status_rule.ACTIVE, col(Portal.last_refresh_result) == status]]
    if status == "other":  # not one of the known stored statuses: the gaps between them
        known = sorted(_KNOWN_STORED)
        gaps = [[stored < known[0]], [stored > known[-1]]]
        return gaps + [[stored > low, stored < high] for low, high in itertools.pairwise(known)]
    return [[status_predicate(status, now, leeway)]]


def listing_segments(sort: str, now: datetime, leeway: timedelta) -> list[Segment]:
    """A sort order (dashboard.listing.SORTS) as consecutive segments, each read in index order: a page
    never sorts every row. Hub id breaks ties (descending in the "newest" orders).

    "problems" follows dashboard.status.problems_key: the problem states by rank, then active portals by
    expiry (expired, expiring, healthy: the order of their expires_at), then revoked ones."""
    hub = col(Portal.hub_id)
    every = frozenset([*status_rule.STATUSES, "other"])

    def nulls_last(column: Any, *, newest: bool = False) -> list[Segment]:
        if newest:
            return [Segment(every, [[column.is_not(None)]], [column.desc(), hub.desc()]),
                    Segment(every, [[column.is_(None)]], [hub.desc()])]
        return [Segment(every, [[column.is_not(None)]], [column, hub]), Segment(every, [[column.is_(None)]], [hub])]

    simple = {"hub_id": [Segment(every, [[]], [hub])], "expires": nulls_last(col(Portal.expires_at)),
              "domain": nulls_last(col(Portal.hub_domain)),
              "last_refresh": nulls_last(col(Portal.last_refresh_at), newest=True),
              "installed": nulls_last(col(Portal.installed_at), newest=True)}
    if sort in simple:
        return simple[sort]
    if sort != "problems":
        raise ValueError(f"unknown sort {sort!r}")
    expires = col(Portal.expires_at)
    fresh = frozenset(("expired", "expiring", "healthy"))
    segments: list[Segment] = []
    for rank in sorted(set(status_rule.RANKS.values())):
        names = [s for s, r in status_rule.RANKS.items() if r == rank]
        if "expired" in names:  # expired, expiring and healthy: one run in expires_at order
            segments += [Segment(fresh, [[*_freshness_rows(), expires.is_(None)]], [hub]),
                         Segment(fresh, [[*_freshness_rows(), expires.is_not(None)]], [expires, hub])]
        elif not fresh.intersection(names):
            if rank == status_rule.UNKNOWN_RANK:
                names.append("other")
            segments.append(Segment(frozenset(names), [p for s in names for p in _status_parts(s, now, leeway)],
                                    [hub]))
    return segments


def listing_order(sort: str, now: datetime, leeway: timedelta) -> list[Any]:
    """The same orders as one ORDER BY (for a search, which reads every row anyway: one scan, one top-N sort)."""
    order: list[Any] = []
    if sort == "problems":
        fresh = and_(*_freshness_rows())
        rank = case(status_rule.RANKS, value=display_status_sql(now, leeway), else_=status_rule.UNKNOWN_RANK)
        return [rank, case((and_(fresh, col(Portal.expires_at).is_not(None)), 1), else_=0),
                case((fresh, col(Portal.expires_at)), else_=None), col(Portal.hub_id)]
    for number, segment in enumerate(listing_segments(sort, now, leeway)):
        (where,) = segment.parts
        order.append(case((and_(*where), number), else_=99) if where else literal(0))
    columns = {"expires": col(Portal.expires_at), "domain": col(Portal.hub_domain),
               "last_refresh": col(Portal.last_refresh_at), "installed": col(Portal.installed_at)}
    if sort in ("last_refresh", "installed"):
        return [*order, columns[sort].desc(), col(Portal.hub_id).desc()]
    return [*order, *([columns[sort]] if sort in columns else []), col(Portal.hub_id)]


def listing_page_ids(*, session: Session, where: Sequence[ColumnElement[bool]], segments: Sequence[Segment],
                     limit: int, offset: int = 0, after: int | None = None,
                     statuses: Sequence[str] = ()) -> list[int]:
    """The hub ids of one page, in order, walking the sort's segments: keys first (index-only where an index
    covers the segment), then :func:`portal_rows_by_id` reads just those rows. ``after``: keyset by hub id;
    ``statuses``: the status filter (segments that cannot hold them are skipped).

    A segment wholly before ``offset`` is counted, not read; page one reads ``limit`` keys."""
    conn = session.connection()
    ids: list[int] = []
    skip = offset
    for segment in segments:
        need = limit - len(ids)
        if need <= 0:
            break
        if statuses and not segment.statuses.intersection(statuses):
            continue
        extra = [col(Portal.hub_id) > after] if after is not None else []
        selects = [select(col(Portal.hub_id)).where(*where, *extra, *part) for part in segment.parts]
        if len(selects) == 1:
            stmt = selects[0].order_by(*segment.order)
        else:
            merged = union_all(*selects).subquery()
            stmt = select(merged.c.hub_id).order_by(merged.c.hub_id)
        got = [int(h) for h in conn.execute(stmt.limit(need).offset(skip)).scalars()]
        if not got and skip:
            skip -= sum(int(conn.execute(select(func.count()).select_from(Portal).where(*where, *extra, *part))
                            .scalar_one()) for part in segment.parts)
            continue
        skip = 0
        ids += got
    return ids


def listing_page_ids_by_order(*, session: Session, where: Sequence[ColumnElement[bool]], order: Sequence[Any],
                              limit: int, offset: int = 0) -> list[int]:
    stmt = select(col(Portal.hub_id)).where(*where).order_by(*order).limit(limit).offset(offset)
    return [int(h) for h in session.connection().execute(stmt).scalars()]


def portal_rows_by_id(*, session: Session, hub_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Listing rows for ``hub_ids``, in that order (ids without a row are left out)."""
    if not hub_ids:
        return []
    # The app first: the primary key is (app, hub_id), so hub ids alone would scan the table.
    result = session.connection().execute(select(*LISTING_COLUMNS).where(
        col(Portal.app) == session_app(session), col(Portal.hub_id).in_(list(hub_ids))))
    keys = tuple(result.keys())
    by_id = {row[0]: dict(zip(keys, row, strict=True)) for row in result.fetchall()}
    return [by_id[h] for h in hub_ids if h in by_id]


def count_listing(*, session: Session, where: Sequence[ColumnElement[bool]]) -> int:
    return int(session.connection().execute(select(func.count()).select_from(Portal).where(*where)).scalar_one())


def display_status_counts(*, session: Session, now: datetime, leeway: timedelta) -> dict[str, int]:
    """Portals per display status at ``now``, in one statement (one snapshot) of index range counts: stored
    statuses grouped, key problems among active portals, expired and expiring ones; healthy is the rest."""
    stored, result = col(Portal.status), col(Portal.last_refresh_result)
    active = stored == status_rule.ACTIVE

    def counted(kind: str, name: Any, *where: ColumnElement[bool]) -> Any:
        return select(literal(kind), name, func.count()).select_from(Portal).where(*where)

    # Active portals are most of the table: counted as the total less the others (SQLite counts a whole
    # table from its b-tree; the other statuses are two short ranges of the status index).
    stmt = union_all(
        select(literal("total"), literal(""), select(func.count()).select_from(Portal).scalar_subquery()),
        counted("stored", stored, stored < status_rule.ACTIVE).group_by(stored),
        counted("stored", stored, stored > status_rule.ACTIVE).group_by(stored),
        counted("key", result, active, result.in_(status_rule.KEY_PROBLEMS)).group_by(result),
        counted("fresh", literal("expired"), *_freshness_rows(), col(Portal.expires_at).is_(None)),
        counted("fresh", literal("expired"), *_freshness_rows(), col(Portal.expires_at) <= now),
        counted("fresh", literal("expiring"), status_predicate("expiring", now, leeway)),
    )
    counts: dict[str, int] = {}
    for kind, name, n in session.connection().execute(stmt):
        if kind == "total":  # every portal starts as healthy; each other count takes its part away
            counts["healthy"] = counts.get("healthy", 0) + int(n)
            continue
        counts["healthy"] = counts.get("healthy", 0) - int(n)
        counts[str(name)] = counts.get(str(name), 0) + int(n)
    return {s: n for s, n in counts.items() if n}


def expiry_histogram_counts(*, session: Session, now: datetime, bucket: timedelta, buckets: int) -> list[int]:
    """Access tokens (revoked left out) expiring in each ``bucket`` from ``now``: one statement of index range
    counts (every token in the range, less the revoked ones in it)."""
    expires = col(Portal.expires_at)
    parts = []
    for i in range(buckets):
        span = [expires >= now + bucket * i, expires < now + bucket * (i + 1)]
        parts.append(select(literal(i), func.count()).where(*span))
        parts.append(select(literal(-1 - i), func.count()).where(col(Portal.status) == PortalStatus.REVOKED, *span))
    counts = [0] * buckets
    for i, n in session.connection().execute(union_all(*parts)):
        counts[i if i >= 0 else -1 - i] += int(n) if i >= 0 else -int(n)
    return counts


def replace_portal_scopes(*, session: Session, hub_id: int, scopes: Sequence[str], app: str | None = None) -> None:
    """Make the portal's rows in portal_scope equal ``scopes`` (called wherever granted_scopes is written)."""
    conn = session.connection()
    app = app or session_app(session)
    unique = sorted(set(scopes))
    mine = and_(_SCOPES.c.app == app, _SCOPES.c.hub_id == hub_id)
    # A refresh usually returns the scopes the portal already has: one indexed read, no write, then.
    if sorted(conn.execute(select(_SCOPES.c.scope).where(mine)).scalars()) == unique:
        return
    conn.execute(delete(_SCOPES).where(mine))
    if unique:
        conn.execute(insert(_SCOPES), [{"app": app, "scope": s, "hub_id": hub_id} for s in unique])


def fill_portal_scopes(*, session: Session) -> int:
    """Rebuild portal_scope from every portal's granted_scopes (for rows written around this module, such as
    a benchmark's bulk insert). How many pairs it wrote."""
    conn = session.connection()
    conn.execute(delete(_SCOPES))
    rows = conn.execute(select(col(Portal.app), col(Portal.hub_id), col(Portal.granted_scopes))).fetchall()
    pairs = [{"app": a, "scope": s, "hub_id": h} for a, h, granted in rows for s in set((granted or "").split())]
    if pairs:
        conn.execute(insert(_SCOPES), pairs)
    return len(pairs)


def portals_losing_scopes(*, session: Session, keep: Sequence[str], sample: int = 5) -> tuple[int, list[int]]:
    """Connected (not revoked) portals granted a scope outside ``keep``: a link asking only for ``keep`` would
    take those scopes away if used on them. Their number and the first few hub ids (portal_scope does it)."""
    losing = (select(_SCOPES.c.hub_id).distinct()
              .join(Portal, and_(col(Portal.app) == _SCOPES.c.app, col(Portal.hub_id) == _SCOPES.c.hub_id))
              .where(col(Portal.status) != PortalStatus.REVOKED, _SCOPES.c.scope.not_in(list(keep))))
    conn = session.connection()
    count = int(conn.execute(select(func.count()).select_from(losing.subquery())).scalar_one())
    first = [int(h) for h in conn.execute(losing.order_by(_SCOPES.c.hub_id).limit(sample)).scalars()]
    return count, first
