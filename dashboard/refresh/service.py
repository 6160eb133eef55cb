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
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from queue import SimpleQueue

from dashboard import repository, status
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import (
    CryptoError,
    DashboardError,
    InvalidGrantError,
    PortalRevokedError,
    StorageError,
    TransientError,
)
from dashboard.hubspot.client import RetryPolicy
from dashboard.lifecycle.alerting import after_change
from dashboard.lifecycle.breaker import Gate, breaker_for, recovered
from dashboard.lifecycle.keys import PassKeys, check_keys
from dashboard.lifecycle.machine import HealthEvent
from dashboard.lifecycle.transitions import plan
from dashboard.models import Portal, PortalStatus, PortalUpdate, utcnow
from dashboard.refresh import journal
from dashboard.refresh.store import Lease, record_failure, release, store_tokens
from dashboard.refresh.store import RefreshOutcome as RefreshOutcome
from dashboard.refresh.store import backoff_for as backoff_for
from dashboard.security import vault
from dashboard.security.guard import require

log = logging.getLogger(__name__)
MIN_TOKEN_AGE = status.MIN_TOKEN_AGE  # never refreshed again automatically when younger (only forced)
LEASE_MARGIN_S = 5.0


def lease_ttl(ctx: AppContext) -> timedelta:
    """Just longer than the slowest refresh: the token call's whole budget and the waits between its attempts.

    Kept this short on purpose: a worker killed mid-refresh holds its portals until the lease runs out, and a
    refresh token HubSpot rotated for it comes back only if the next refresh (with the previous token) falls
    within the rotation grace period (docs/proofs.md, "Crash safety"). 45 s with the defaults.
    """
    return lease_ttl_for(ctx.settings.dashboard_token_timeout_seconds, ctx.hubspot.retry)


def lease_ttl_for(token_timeout_s: float, retry: RetryPolicy) -> timedelta:
    """:func:`lease_ttl` for a worker with this token timeout and retry policy."""
    slowest = token_timeout_s + (retry.attempts - 1) * retry.max_wait
    return timedelta(seconds=slowest + LEASE_MARGIN_S)


def _needs_refresh(portal: Portal, now: datetime, leeway: timedelta) -> bool:
    return portal.expires_at is None or portal.expires_at <= now + leeway


def _refreshed_recently(portal: Portal, now: datetime) -> bool:
    return portal.last_refresh_result == "success" and portal.last_refresh_at is not None and \
        portal.last_refresh_at > now - MIN_TOKEN_AGE


def refresh_portal(ctx: AppContext, hub_id: int, *, actor: Actor, force: bool = False,
                   automatic: bool = False, within: timedelta | None = None, probing: bool = False,
                   keys: PassKeys | None = None, stop: threading.Event | None = None) -> RefreshOutcome:
    """Refresh one portal. ``force`` refreshes even a fresh token; ``automatic`` is the worker's call.

    ``within`` widens "needs a refresh" beyond the leeway (a sweep's ``--within``). Tokens waiting in the
    spill journal are stored first, so a refresh never starts from a refresh token HubSpot has replaced.
    """
    require(ctx.engine, actor, "refresh", action="refresh", hub_id=hub_id)
    if not automatic:  # a sweep replays once at its start
        journal.replay(ctx)
    owner = uuid.uuid4().hex
    ttl = lease_ttl(ctx)
    if not ctx.leases.acquire(hub_id, owner, ttl):
        with ctx.session() as session:  # a database lease cannot be taken on a missing row
            repository.portal_or_not_found(session=session, hub_id=hub_id)
        return RefreshOutcome(hub_id, "busy", message="another process is refreshing this portal right now")
    lease = Lease(hub_id, owner, ctx.leases.in_row, deadline=time.monotonic() + ttl.total_seconds(), stop=stop)
    try:
        return _refresh_under_lease(ctx, lease, actor=actor, force=force, automatic=automatic, within=within,
                                    probing=probing, keys=keys)
    finally:
        release(ctx, lease)


def _refresh_under_lease(ctx: AppContext, lease: Lease, *, actor: Actor, force: bool, automatic: bool,
                         within: timedelta | None, probing: bool = False,
                         keys: PassKeys | None = None) -> RefreshOutcome:
    hub_id = lease.hub_id
    leeway = timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    if within is not None:
        leeway = max(leeway, within)
    with ctx.session() as session:
        portal = repository.portal_or_not_found(session=session, hub_id=hub_id)
    if portal.status == PortalStatus.REVOKED or portal.refresh_token_ct is None:
        return RefreshOutcome(hub_id, "skipped", message="this connection was revoked; reinstall it")
    if automatic and portal.status == PortalStatus.NEEDS_REAUTH:
        return RefreshOutcome(hub_id, "skipped", message="needs re-authorization; not retried automatically")
    if portal.status == PortalStatus.NEEDS_REAUTH:  # terminal: only a new grant leaves it (lifecycle/machine.py)
        return RefreshOutcome(hub_id, "needs_reauth", portal.expires_at,
                              "needs re-authorization: send the portal's admin a re-consent link")
    if portal.status == PortalStatus.UNINSTALLED:
        return RefreshOutcome(hub_id, "skipped", message="the app was uninstalled from this account; reinstall it")
    now = utcnow()
    if not force and (not _needs_refresh(portal, now, leeway) or _refreshed_recently(portal, now)):
        # Re-checked under the lease: another process refreshed while we waited (or less than a minute ago:
        # with a leeway at or above the token's lifetime, every token API read would refresh otherwise).
        return RefreshOutcome(hub_id, "fresh", portal.expires_at, "the access token is still fresh")
    return _grant_and_store(ctx, portal, lease, actor, keys=keys, probing=probing)


def _grant_and_store(ctx: AppContext, portal: Portal, lease: Lease, actor: Actor, *,
                     keys: PassKeys | None = None, probing: bool = False) -> RefreshOutcome:
    """The refresh grant, then the new tokens stored at once, under ``lease`` (read ``portal`` under it).

    Between HubSpot's answer and the commit there is nothing but sealing and one UPDATE (which also
    releases a database lease), committed with the other threads' stores that are ready (group commit on
    SQLite): with rotating refresh tokens, a crash in that window loses the new token.
    A row we cannot decrypt is a key problem (``key_missing`` / ``undecryptable``): recorded through the
    state machine, and tried only a few times per key per pass (``keys``). ``probing``: the breaker's one
    probe (no in-call retries). Every failed attempt is counted by the outage detector.
    """
    hub_id = portal.hub_id
    if keys is not None and keys.skip(portal.key_id):
        return RefreshOutcome(hub_id, "skipped", message=f"its key {portal.key_id!r} cannot open this pass's rows")
    try:
        tokens = vault.open_tokens(ctx.cipher, portal)
    except CryptoError as exc:
        if keys is not None:
            keys.failed(portal.key_id)
        return record_failure(ctx, portal, lease, actor, exc)
    if keys is not None:
        keys.succeeded(portal.key_id)
    breaker = breaker_for(ctx)
    gate = Gate(ctx, breaker, hub_id, probing=probing, actor=actor.name)
    started = time.monotonic()
    try:
        resp = ctx.hubspot.refresh(tokens.refresh_token, may_retry=gate)
    except DashboardError as exc:
        took_ms = round((time.monotonic() - started) * 1000)
        return record_failure(ctx, portal, lease, actor, exc, duration_ms=took_ms)
    breaker.observe(hub_id, failed_transiently=False)
    now = utcnow()
    new_pair = vault.TokenPair(resp.access_token, resp.refresh_token or tokens.refresh_token)
    values: PortalUpdate = {
        **vault.seal(ctx.cipher, hub_id, new_pair, app=portal.app),
        "expires_at": now + timedelta(seconds=resp.expires_in), "last_refresh_at": now,
        "last_refresh_result": "success", "last_error": None, "consecutive_failures": 0,
        "next_attempt_at": None, "status": PortalStatus.ACTIVE, "updated_at": now,
    }
    granted = " ".join(sorted(resp.scopes)) if resp.scopes else None
    if granted is not None and granted != portal.granted_scopes:  # unchanged: no portal_scope work in the write
        values["granted_scopes"] = granted
    rotated = resp.refresh_token is not None and resp.refresh_token != tokens.refresh_token
    took_ms = round((time.monotonic() - started) * 1000)  # HubSpot's answer, retries included
    detail = f"expires_in={resp.expires_in}s; refresh token {'rotated' if rotated else 'kept'}; took={took_ms}ms"
    stored = store_tokens(ctx, portal, lease, actor, values, detail, took_ms)
    if stored == "journaled":
        return RefreshOutcome(hub_id, "journaled", values["expires_at"],
                              "refreshed, but the database refused the new tokens; they wait in the spill journal")
    if stored == "unsaved":
        return RefreshOutcome(hub_id, "unsaved", values["expires_at"],
                              "refreshed, but neither the database nor the spill journal took the new tokens; "
                              "they are held in this process's memory until one does")
    if breaker.blocking(ctx) is not None:
        recovered(ctx, actor=actor.name)  # HubSpot answers again: end the outage, release the backoffs
    if stored == "stored" and portal.status != PortalStatus.ACTIVE:
        after_change(ctx, portal, plan(portal, HealthEvent.REFRESHED, now), failures=0,
                     detail="refresh succeeded", actor=actor.name)
    if stored == "conflict":
        return RefreshOutcome(hub_id, "conflict", message="the portal was reinstalled meanwhile; kept the new install")
    return RefreshOutcome(hub_id, "refreshed", values["expires_at"], "refreshed")


def refresh_due(ctx: AppContext, *, within: timedelta | None = None, concurrency: int = 8,
                actor: Actor, limit: int | None = None,
                stop: threading.Event | None = None) -> list[RefreshOutcome]:
    """Refresh every portal expiring within ``within`` (default: the leeway), ``concurrency`` at a time.

    One pass is bounded: it first stores whatever waits in the spill journal, then takes the list of portals
    due at its start (leaving out any refreshed less than :data:`MIN_TOKEN_AGE` ago) and considers each of
    them once. So it makes at most that many refresh requests and ends, whatever ``within`` is: a portal
    refreshed by this pass is due again only in the next one.

    With database leases the sweep claims due portals in batches (one conditional UPDATE leases many rows)
    as workers free up; with Redis leases each portal is leased on its own. Either way a portal another
    process holds is left to it, and one refreshed meanwhile is not refreshed again. Once ``stop`` is set
    no new refresh starts; the ones in flight finish and store their tokens, or, if the database refuses
    them, put them in the spill journal at once instead of retrying the store until the lease runs out.
    Once the database refuses a claim or a store (spilled to the journal), the pass starts no new refresh
    either: every further grant would only wait out the busy timeout and go to the journal too.
    """
    within = within if within is not None else timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    require(ctx.engine, actor, "refresh", action="refresh")
    _keep_held_leases(ctx)
    journal.replay(ctx)
    missing = check_keys(ctx, actor=actor.name)  # once per key id per pass: their rows sit this pass out
    keys = PassKeys(ctx, actor.name)
    workers = max(1, concurrency)
    now = utcnow()
    with ctx.session() as session:
        due = repository.due_hub_ids(session=session, now=now, within=within, limit=limit,
                                     issued_before=now - MIN_TOKEN_AGE, skip_keys=missing)
    if not due:
        return []
    breaker = breaker_for(ctx)
    blocking = breaker.blocking(ctx)
    if blocking is not None:  # HubSpot degraded or the app refused: one probe at a time, the rest waits
        probe: list[RefreshOutcome] = []
        if breaker.take_probe(ctx, blocking.name):
            probe = [refresh_portal(ctx, due[0], actor=actor, automatic=True, within=within, probing=True)]
        if probe and probe[0].result == "refreshed" and breaker.blocking(ctx) is None:
            return probe + refresh_due(ctx, within=within, concurrency=concurrency, actor=actor, limit=limit,
                                       stop=stop)  # recovered: everything failed meanwhile is due at once
        waiting = f"{blocking.name} condition: {blocking.reason}; waiting for a probe refresh to succeed"
        return probe + [RefreshOutcome(h, "deferred", message=waiting) for h in due[len(probe):]]
    if ctx.leases.in_row:
        return _sweep_claiming(ctx, due=due, within=within, workers=workers, actor=actor, stop=stop, keys=keys)

    refused = threading.Event()  # the database refused a store: start no new refresh in this pass

    def one(hub_id: int) -> RefreshOutcome:
        if stop is not None and stop.is_set():
            return RefreshOutcome(hub_id, "stopped", message="the worker is stopping; left for the next sweep")
        if refused.is_set():
            return RefreshOutcome(hub_id, "stopped", message="the database refuses writes; left for the next sweep")
        if breaker.blocking(ctx) is not None:
            return RefreshOutcome(hub_id, "deferred", message="HubSpot is degraded; left for the breaker's probe")
        try:
            outcome = refresh_portal(ctx, hub_id, actor=actor, automatic=True, within=within, keys=keys,
                                     stop=stop)
        except StorageError as exc:
            refused.set()
            return RefreshOutcome(hub_id, "failed", message=exc.description)
        except DashboardError as exc:
            return RefreshOutcome(hub_id, "failed", message=exc.description)
        if outcome.result in ("journaled", "unsaved"):
            refused.set()
        return outcome

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh") as pool:
        return list(pool.map(one, due))


def _keep_held_leases(ctx: AppContext) -> None:
    """Renew the leases of portals whose new tokens are held in memory, so that no worker refreshes them from
    the token HubSpot replaced. Best effort: the database that refused the tokens may refuse this too."""
    ttl = lease_ttl(ctx)
    for hub_id, owner in ctx.unsaved.leases():
        try:
            ctx.leases.acquire(hub_id, owner, ttl)
        except DashboardError:
            log.warning("hub %s: cannot renew the lease of tokens held in memory", hub_id)


def _sweep_claiming(ctx: AppContext, *, due: list[int], within: timedelta, workers: int, actor: Actor,
                    stop: threading.Event | None, keys: PassKeys) -> list[RefreshOutcome]:
    """Database leases: claim the next of ``due`` in batches once an eighth of the workers are free.

    Each portal of ``due`` is offered to exactly one claim, whose UPDATE re-checks that it is still due and
    free; a claimed portal starts at once (never more claimed than free workers), so its lease never runs
    down in a queue. The pass ends when ``due`` is used up and the last refresh has finished.
    """
    ttl = lease_ttl(ctx)
    breaker = breaker_for(ctx)
    outcomes: list[RefreshOutcome] = []
    running = 0
    # Each refresh reports here when it ends: O(1) per refresh, where wait(FIRST_COMPLETED) on every running
    # future cost O(workers) and set the pace of the dispatcher at 50 workers.
    finished: SimpleQueue[Future[RefreshOutcome]] = SimpleQueue()
    queue = deque(due)

    def one(portal: Portal, lease: Lease) -> RefreshOutcome:
        try:
            return _grant_and_store(ctx, portal, lease, actor, keys=keys)
        except DashboardError as exc:
            return RefreshOutcome(portal.hub_id, "failed", message=exc.description)
        finally:
            release(ctx, lease)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh") as pool:
        while True:
            if stop is not None and stop.is_set():
                queue.clear()
            if queue and breaker.blocking(ctx) is not None:  # tripped in this pass: the rest waits for a probe
                outcomes.extend(RefreshOutcome(h, "deferred", message="HubSpot is degraded; left for the "
                                               "breaker's probe") for h in queue)
                queue.clear()
            if queue and running <= workers - max(1, workers // 8):
                batch = [queue.popleft() for _ in range(min(workers - running, len(queue)))]
                owner = uuid.uuid4().hex
                now = utcnow()
                deadline = time.monotonic() + ttl.total_seconds()
                try:
                    with ctx.session() as session, ctx.writing():  # the claim returns the rows it leased
                        claimed = repository.claim_due_portal_rows(session=session, owner=owner, now=now,
                                                                   within=within, ttl=ttl, hub_ids=batch,
                                                                   issued_before=now - MIN_TOKEN_AGE)
                        session.commit()  # refused: the except below drops them, as nothing was leased
                except DashboardError as exc:  # the database refuses: the rest waits for the next pass
                    log.warning("could not claim due portals (%s); %s left for the next sweep", exc,
                                len(batch) + len(queue))
                    queue.clear()
                    claimed = []
                for portal in claimed:
                    lease = Lease(portal.hub_id, owner, in_row=True, deadline=deadline, stop=stop)
                    pool.submit(one, portal, lease).add_done_callback(finished.put)
                    running += 1
            if not running:
                if queue:
                    continue
                return outcomes
            done = [finished.get()]
            while not finished.empty():
                done.append(finished.get())
            running -= len(done)
            results = [f.result() for f in done]
            outcomes.extend(results)
            if any(o.result in ("journaled", "unsaved") for o in results):
                queue.clear()  # the database refused a store: the rest waits for the next pass


def get_access_token(ctx: AppContext, hub_id: int, *, actor: Actor) -> str:
    """A valid access token for ``hub_id``, refreshed first when it expires within the leeway."""
    leeway = timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    with ctx.session() as session:
        portal = repository.portal_or_not_found(session=session, hub_id=hub_id)
    if portal.status in (PortalStatus.REVOKED, PortalStatus.UNINSTALLED) or portal.refresh_token_ct is None:
        raise PortalRevokedError(f"portal {hub_id} was revoked; reinstall it")
    if _needs_refresh(portal, utcnow(), leeway):
        outcome = refresh_portal(ctx, hub_id, actor=actor)
        if outcome.result == "skipped":  # revoked while we looked (the only skip of a manual refresh)
            raise PortalRevokedError(f"portal {hub_id} was revoked; reinstall it")
        if outcome.result in ("failed", "needs_reauth"):
            raise InvalidGrantError(outcome.message) if outcome.result == "needs_reauth" else \
                TransientError(f"cannot refresh portal {hub_id}: {outcome.message}")
        portal = _reread(ctx, hub_id, wait_for_newer_than=portal.token_version if outcome.result == "busy" else None)
    return vault.open_tokens(ctx.cipher, portal).access_token


def _reread(ctx: AppContext, hub_id: int, *, wait_for_newer_than: int | None, timeout: float = 10.0) -> Portal:
    """The portal row again; when another process holds the lease, wait (bounded) for its new tokens."""
    deadline = time.monotonic() + timeout
    while True:
        with ctx.session() as session:
            portal = repository.portal_or_not_found(session=session, hub_id=hub_id)
        if wait_for_newer_than is None or portal.token_version > wait_for_newer_than or \
                time.monotonic() >= deadline:
            return portal
        time.sleep(0.1)
