"""Refreshing tokens: one portal under a lease, or every due portal with bounded concurrency.

The Authlib pattern, across processes: check expiry with leeway, take the portal's lease, re-read the row
under it and do nothing if another process already refreshed, then store the new tokens in one
transaction. The old refresh token is kept when HubSpot omits a new one. ``invalid_grant`` means the
grant is dead: ``needs_reauth``, never retried automatically. Transient failures leave the tokens
untouched and back off.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dashboard import alerts, audit, repository, vault
from dashboard.actors import SYSTEM, Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError, InvalidGrantError, NotFoundError, StorageError, TransientError
from dashboard.guard import require
from dashboard.models import Portal, PortalStatus, utcnow

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class RefreshOutcome:
    """What happened to one portal: refreshed, fresh (nothing to do), busy, failed, needs_reauth, skipped."""

    hub_id: int
    result: str
    expires_at: datetime | None = None
    message: str = ""


def backoff_for(failures: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    return min(timedelta(seconds=30 * 2 ** max(0, failures - 1)), MAX_BACKOFF)


def lease_ttl(ctx: AppContext) -> timedelta:
    # Longer than the slowest refresh: every retry attempt timing out plus the backoff between them.
    return timedelta(seconds=ctx.settings.dashboard_http_timeout_seconds * 3 + 30)


def _needs_refresh(portal: Portal, now: datetime, leeway: timedelta) -> bool:
    return portal.expires_at is None or portal.expires_at <= now + leeway


@dataclass
class _Lease:
    """A lease this call holds on one portal; ``held`` turns False once it is released."""

    hub_id: int
    owner: str
    in_row: bool
    held: bool = True

    @property
    def row_owner(self) -> str | None:
        """The owner to release within the row's own UPDATE (database leases), else None."""
        return self.owner if self.in_row and self.held else None

    def released_with_row(self, row_written: bool) -> None:
        if row_written and self.in_row:
            self.held = False


def _release(ctx: AppContext, lease: _Lease) -> None:
    if not lease.held:
        return
    try:
        ctx.leases.release(lease.hub_id, lease.owner)
        lease.held = False
    except StorageError:
        log.warning("could not release the lease of hub %s; it expires on its own", lease.hub_id)


def refresh_portal(ctx: AppContext, hub_id: int, *, actor: Actor = SYSTEM, force: bool = False,
                   automatic: bool = False, within: timedelta | None = None) -> RefreshOutcome:
    """Refresh one portal. ``force`` refreshes even a fresh token; ``automatic`` is the worker's call.

    ``within`` widens "needs a refresh" beyond the leeway (a sweep's ``--within``).
    """
    require(ctx.engine, actor, "refresh", action="refresh", hub_id=hub_id)
    owner = uuid.uuid4().hex
    if not ctx.leases.acquire(hub_id, owner, lease_ttl(ctx)):
        with ctx.session() as session:  # a database lease cannot be taken on a missing row
            if repository.get_portal(session=session, hub_id=hub_id) is None:
                raise NotFoundError(f"no connected portal with hub id {hub_id}")
        return RefreshOutcome(hub_id, "busy", message="another process is refreshing this portal right now")
    lease = _Lease(hub_id, owner, ctx.leases.in_row)
    try:
        return _refresh_under_lease(ctx, lease, actor=actor, force=force, automatic=automatic, within=within)
    finally:
        _release(ctx, lease)


def _refresh_under_lease(ctx: AppContext, lease: _Lease, *, actor: Actor, force: bool, automatic: bool,
                         within: timedelta | None) -> RefreshOutcome:
    hub_id = lease.hub_id
    leeway = timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    if within is not None:
        leeway = max(leeway, within)
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hub_id)
    if portal is None:
        raise NotFoundError(f"no connected portal with hub id {hub_id}")
    if portal.status == PortalStatus.REVOKED or portal.refresh_token_ct is None:
        return RefreshOutcome(hub_id, "skipped", message="this connection was revoked; reinstall it")
    if automatic and portal.status == PortalStatus.NEEDS_REAUTH:
        return RefreshOutcome(hub_id, "skipped", message="needs re-authorization; not retried automatically")
    if not force and not _needs_refresh(portal, utcnow(), leeway):
        # Re-checked under the lease: another process refreshed while we waited.
        return RefreshOutcome(hub_id, "fresh", portal.expires_at, "the access token is still fresh")
    return _grant_and_store(ctx, portal, lease, actor)


def _grant_and_store(ctx: AppContext, portal: Portal, lease: _Lease, actor: Actor) -> RefreshOutcome:
    """The refresh grant, then the new tokens stored at once, under ``lease`` (read ``portal`` under it).

    Between HubSpot's answer and the commit there is nothing but sealing and one UPDATE (which also
    releases a database lease): with rotating refresh tokens, a crash in that window loses the new token.
    """
    hub_id = portal.hub_id
    tokens = vault.open_tokens(ctx.cipher, portal)
    started = time.monotonic()
    try:
        resp = ctx.hubspot.refresh(tokens.refresh_token)
    except InvalidGrantError as exc:
        return _record_failure(ctx, portal, lease, actor, exc, reauth=True)
    except (TransientError, DashboardError) as exc:
        return _record_failure(ctx, portal, lease, actor, exc, reauth=False)
    now = utcnow()
    new_pair = vault.TokenPair(resp.access_token, resp.refresh_token or tokens.refresh_token)
    values: dict[str, Any] = {
        **vault.seal(ctx.cipher, hub_id, new_pair),
        "expires_at": now + timedelta(seconds=resp.expires_in), "last_refresh_at": now,
        "last_refresh_result": "success", "last_error": None, "consecutive_failures": 0,
        "next_attempt_at": None, "status": PortalStatus.ACTIVE, "updated_at": now,
    }
    if resp.scopes:
        values["granted_scopes"] = " ".join(sorted(resp.scopes))
    rotated = resp.refresh_token is not None and resp.refresh_token != tokens.refresh_token
    took_ms = round((time.monotonic() - started) * 1000)  # HubSpot's answer, retries included
    with ctx.session() as session, ctx.writing():
        stored = repository.update_portal_if_version(session=session, hub_id=hub_id, version=portal.token_version,
                                                     values=values, release_lease_of=lease.row_owner)
        audit.record(session, actor=actor.name, action="refresh", outcome="success" if stored else "conflict",
                     hub_id=hub_id, detail=f"expires_in={resp.expires_in}s; "
                     f"refresh token {'rotated' if rotated else 'kept'}; took={took_ms}ms")
        session.commit()
    lease.released_with_row(stored)
    if portal.consecutive_failures >= ctx.settings.dashboard_alert_failure_threshold or \
            portal.status == PortalStatus.NEEDS_REAUTH:
        alerts.send_alert(ctx, event="recovered", hub_id=hub_id, hub_domain=portal.hub_domain,
                          status=PortalStatus.ACTIVE, detail="refresh succeeded")
    if not stored:
        return RefreshOutcome(hub_id, "conflict", message="the portal was reinstalled meanwhile; kept the new install")
    return RefreshOutcome(hub_id, "refreshed", values["expires_at"], "refreshed")


def _record_failure(ctx: AppContext, portal: Portal, lease: _Lease, actor: Actor, exc: DashboardError, *,
                    reauth: bool) -> RefreshOutcome:
    now = utcnow()
    failures = portal.consecutive_failures + 1
    if reauth:
        values: dict[str, Any] = {"status": PortalStatus.NEEDS_REAUTH, "last_refresh_result": "invalid_grant",
                  "next_attempt_at": None}
    else:
        values = {"status": PortalStatus.REFRESH_FAILING, "last_refresh_result": exc.code,
                  "next_attempt_at": now + backoff_for(failures)}
    values.update({"last_error": exc.description[:500], "consecutive_failures": failures, "last_refresh_at": now,
                   "updated_at": now})
    with ctx.session() as session, ctx.writing():
        written = repository.update_portal(session=session, hub_id=portal.hub_id, values=values,
                                           release_lease_of=lease.row_owner)
        audit.record(session, actor=actor.name, action="refresh", outcome="failure", hub_id=portal.hub_id,
                     detail=f"{exc.code}: {exc.description[:300]}")
        session.commit()
    lease.released_with_row(written)
    if reauth and portal.status != PortalStatus.NEEDS_REAUTH:
        alerts.send_alert(ctx, event="needs_reauth", hub_id=portal.hub_id, hub_domain=portal.hub_domain,
                          status=PortalStatus.NEEDS_REAUTH, detail=exc.description, failures=failures)
    elif not reauth and failures == ctx.settings.dashboard_alert_failure_threshold:
        alerts.send_alert(ctx, event="refresh_failing", hub_id=portal.hub_id, hub_domain=portal.hub_domain,
                          status=PortalStatus.REFRESH_FAILING, detail=exc.description, failures=failures)
    result = "needs_reauth" if reauth else "failed"
    return RefreshOutcome(portal.hub_id, result, portal.expires_at, exc.description)


def refresh_due(ctx: AppContext, *, within: timedelta | None = None, concurrency: int = 8,
                actor: Actor = SYSTEM, limit: int | None = None,
                stop: threading.Event | None = None) -> list[RefreshOutcome]:
    """Refresh every portal expiring within ``within`` (default: the leeway), ``concurrency`` at a time.

    With database leases the sweep claims due portals in batches (one conditional UPDATE leases many rows)
    as workers free up; with Redis leases each portal is leased on its own. Either way a portal another
    process holds is left to it, and one refreshed meanwhile is not refreshed again. Once ``stop`` is set
    no new refresh starts; the ones in flight finish and store their tokens.
    """
    within = within if within is not None else timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    require(ctx.engine, actor, "refresh", action="refresh")
    workers = max(1, concurrency)
    if ctx.leases.in_row:
        return _sweep_claiming(ctx, within=within, workers=workers, actor=actor, limit=limit, stop=stop)
    with ctx.session() as session:
        due = repository.due_hub_ids(session=session, now=utcnow(), within=within, limit=limit)
    if not due:
        return []

    def one(hub_id: int) -> RefreshOutcome:
        if stop is not None and stop.is_set():
            return RefreshOutcome(hub_id, "stopped", message="the worker is stopping; left for the next sweep")
        try:
            return refresh_portal(ctx, hub_id, actor=actor, automatic=True, within=within)
        except DashboardError as exc:
            return RefreshOutcome(hub_id, "failed", message=exc.description)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh") as pool:
        return list(pool.map(one, due))


def _sweep_claiming(ctx: AppContext, *, within: timedelta, workers: int, actor: Actor,
                    limit: int | None, stop: threading.Event | None) -> list[RefreshOutcome]:
    """Database leases: claim due portals in batches once an eighth of the workers are free; refresh each.

    A claimed portal starts at once (never more claimed than free workers), so its lease never runs down
    in a queue. Claiming stops when a claim finds fewer due portals than it asked for.
    """
    ttl = lease_ttl(ctx)
    outcomes: list[RefreshOutcome] = []
    running: set[Future[RefreshOutcome]] = set()
    remaining = limit if limit is not None else -1
    exhausted = remaining == 0

    def one(portal: Portal, owner: str) -> RefreshOutcome:
        lease = _Lease(portal.hub_id, owner, in_row=True)
        try:
            return _grant_and_store(ctx, portal, lease, actor)
        except DashboardError as exc:
            return RefreshOutcome(portal.hub_id, "failed", message=exc.description)
        finally:
            _release(ctx, lease)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh") as pool:
        while True:
            exhausted = exhausted or (stop is not None and stop.is_set())
            if not exhausted and len(running) <= workers - max(1, workers // 8):
                wanted = workers - len(running) if remaining < 0 else min(workers - len(running), remaining)
                owner = uuid.uuid4().hex
                with ctx.session() as session, ctx.writing():
                    repository.claim_due_portals(session=session, owner=owner, now=utcnow(), within=within,
                                                 ttl=ttl, limit=wanted)
                    session.commit()
                with ctx.session() as session:
                    claimed = repository.portals_leased_to(session=session, owner=owner)
                running.update(pool.submit(one, portal, owner) for portal in claimed)
                if remaining >= 0:
                    remaining -= len(claimed)
                exhausted = len(claimed) < wanted or remaining == 0
            if not running:
                return outcomes
            done, running = wait(running, return_when=FIRST_COMPLETED)
            outcomes.extend(f.result() for f in done)


def get_access_token(ctx: AppContext, hub_id: int, *, actor: Actor = SYSTEM) -> str:
    """A valid access token for ``hub_id``, refreshed first when it expires within the leeway."""
    leeway = timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hub_id)
    if portal is None:
        raise NotFoundError(f"no connected portal with hub id {hub_id}")
    if _needs_refresh(portal, utcnow(), leeway):
        outcome = refresh_portal(ctx, hub_id, actor=actor)
        if outcome.result in ("failed", "needs_reauth", "skipped"):
            raise InvalidGrantError(outcome.message) if outcome.result == "needs_reauth" else \
                TransientError(f"cannot refresh portal {hub_id}: {outcome.message}")
        portal = _reread(ctx, hub_id, wait_for_newer_than=portal.token_version if outcome.result == "busy" else None)
    return vault.open_tokens(ctx.cipher, portal).access_token


def _reread(ctx: AppContext, hub_id: int, *, wait_for_newer_than: int | None, timeout: float = 10.0) -> Portal:
    """The portal row again; when another process holds the lease, wait (bounded) for its new tokens."""
    deadline = time.monotonic() + timeout
    while True:
        with ctx.session() as session:
            portal = repository.get_portal(session=session, hub_id=hub_id)
        if portal is None:
            raise NotFoundError(f"no connected portal with hub id {hub_id}")
        if wait_for_newer_than is None or portal.token_version > wait_for_newer_than or \
                time.monotonic() >= deadline:
            return portal
        time.sleep(0.1)
