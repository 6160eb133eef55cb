"""Writing what a refresh produced: new tokens, or a failure, under the portal's lease.

New tokens are the only copy HubSpot gives us (with rotation, the old refresh token is dead), so their
store is retried with backoff while the lease lasts and, if the database still refuses, spilled to the
journal (dashboard/refresh/journal.py) instead of dropped. Failures are written only while the row still holds the
``token_version`` the refresh read: a stale failure (another process refreshed meanwhile, with another
lock or after our lease ran out) never overwrites a newer success.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from sqlmodel import Session

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import CryptoError, DashboardError, HubSpotError, KeyNotFoundError, StorageError
from dashboard.lifecycle.alerting import after_change
from dashboard.lifecycle.breaker import report_configuration
from dashboard.lifecycle.classify import EVENTS, FailureClass, answer_fields, classify
from dashboard.lifecycle.machine import HealthEvent
from dashboard.lifecycle.transitions import plan, write_transition
from dashboard.models import Portal, PortalUpdate, utcnow
from dashboard.refresh import journal
from dashboard.security import audit
from dashboard.webhooks import alerts, transitions

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)
STORE_WAITS = (0.25, 0.5, 1.0, 2.0)  # seconds between store attempts, while the lease lasts
KEY_PROBLEMS = ("key_missing", "undecryptable")


# A Literal, not an Enum: outcomes are compared with plain strings everywhere and mypy catches a misspelt one.
RefreshResult = Literal["refreshed", "journaled", "unsaved", "fresh", "busy", "conflict", "failed", "needs_reauth",
                        "skipped", "stopped", "deferred"]
StoreResult = Literal["stored", "conflict", "journaled", "unsaved"]
REFRESH_RESULTS: tuple[RefreshResult, ...] = get_args(RefreshResult)


@dataclass(frozen=True)
class RefreshOutcome:
    """What happened to one portal: refreshed, journaled, unsaved (held in memory: neither the database nor the
    journal took the tokens), fresh, busy, conflict, failed, needs_reauth, skipped, stopped (a sweep asked to
    stop before reaching it), deferred (HubSpot degraded: left for the breaker)."""

    hub_id: int
    result: RefreshResult
    expires_at: datetime | None = None
    message: str = ""
    app: str = ""  # set by a sweep over several apps (the worker), so a report names the connection


def backoff_for(failures: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour. The exponent is capped too: a portal failing for two days
    (some 45 failures) would otherwise overflow ``timedelta`` and fail the failure's own record."""
    return min(timedelta(seconds=30 * 2 ** min(max(0, failures - 1), 16)), MAX_BACKOFF)


@dataclass
class Lease:
    """A lease this call holds on one portal; ``held`` turns False once it is released.

    ``deadline`` (``time.monotonic()``) is when it runs out: the store is retried only until then.
    ``stop``: the worker's stop event (SIGTERM); once set, a refused store goes to the journal at once
    instead of being retried, so the worker exits within its shutdown time.
    """

    hub_id: int
    owner: str
    in_row: bool
    held: bool = True
    deadline: float = math.inf
    stop: threading.Event | None = None

    @property
    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the worker is asked to stop meanwhile."""
        if self.stop is not None:
            self.stop.wait(seconds)
        else:
            time.sleep(seconds)

    @property
    def row_owner(self) -> str | None:
        """The owner to release within the row's own UPDATE (database leases), else None."""
        return self.owner if self.in_row and self.held else None

    def released_with_row(self, row_written: bool) -> None:
        if row_written and self.in_row:
            self.held = False


def release(ctx: AppContext, lease: Lease) -> None:
    if not lease.held:
        return
    try:
        ctx.leases.release(lease.hub_id, lease.owner)
        lease.held = False
    except StorageError:
        log.warning("could not release the lease of hub %s; it expires on its own", lease.hub_id)


def _write_tokens(ctx: AppContext, portal: Portal, lease: Lease, actor: Actor, values: PortalUpdate,
                  detail: str, took_ms: int | None = None) -> bool:
    release_lease_of = lease.row_owner
    now = utcnow()
    change = plan(portal, HealthEvent.REFRESHED, now)
    values = {**values, **change.values}

    def write(session: Session) -> bool:
        stored = repository.update_portal_if_version(session=session, hub_id=portal.hub_id,
                                                     version=portal.token_version, values=values,
                                                     release_lease_of=release_lease_of)
        audit.record(session, actor=actor.name, action="refresh", outcome="success" if stored else "conflict",
                     hub_id=portal.hub_id, detail=detail, fields={"duration_ms": took_ms, "http_status": 200})
        if stored:  # the transition and the outbox event commit with the tokens (and the group commit's others)
            write_transition(session, change, actor=actor.name, cause="refresh succeeded", at=now)
            transitions.refreshed(session, portal, values, threshold=ctx.settings.dashboard_alert_failure_threshold)
        return stored

    stored = ctx.write_together(write)  # committed, maybe with other refreshes' stores (group commit)
    lease.released_with_row(stored)
    return stored


def store_tokens(ctx: AppContext, portal: Portal, lease: Lease, actor: Actor, values: PortalUpdate,
                 detail: str, took_ms: int | None = None) -> StoreResult:
    """Store refreshed tokens read at ``portal.token_version``: ``stored``, ``conflict`` (a newer row won),
    ``journaled`` (the database refused every attempt; the values are in the spill journal) or ``unsaved``
    (the journal refused too: held in this process's memory, and the lease is kept, not released)."""
    for wait in (*STORE_WAITS, None):
        try:
            return "stored" if _write_tokens(ctx, portal, lease, actor, values, detail, took_ms) else "conflict"
        except StorageError as exc:
            if wait is None or lease.stopping or time.monotonic() + wait >= lease.deadline:
                log.error("hub %s: storing refreshed tokens failed: %s", portal.hub_id, exc)
                break
            log.warning("hub %s: storing refreshed tokens failed (%s); retrying in %.2f s", portal.hub_id, exc, wait)
            lease.pause(wait)
    entry = journal.Entry(portal.hub_id, portal.token_version, values, actor.name, detail, app=ctx.app_id)
    if journal.append(ctx, entry):
        return "journaled"
    first = not len(ctx.unsaved)
    ctx.unsaved.hold(entry, lease.owner)
    lease.held = False  # kept: no other worker may refresh from the token HubSpot has replaced
    if first:
        alerts.send_alert(ctx, event="tokens_unsaved", hub_id=portal.hub_id, hub_domain=portal.hub_domain,
                          status=str(portal.status), detail="neither the database nor the spill journal takes "
                          "refreshed tokens; they are held in the worker's memory until one does")
    return "unsaved"


def failure_kind(exc: DashboardError) -> str:
    """``key_missing`` / ``undecryptable`` for rows we cannot read, else the error's own code."""
    if isinstance(exc, KeyNotFoundError):
        return "key_missing"
    if isinstance(exc, CryptoError):
        return "undecryptable"
    return exc.code


def _key_advice(portal: Portal, kind: str, exc: DashboardError) -> str:
    where = f"hub {portal.hub_id}" + (f" ({portal.hub_domain})" if portal.hub_domain else "")
    if kind == "key_missing":
        return f"{where}: {exc.description}; then the next sweep refreshes it"
    return (f"{where}: {exc.description}. Restore the key that wrote it under id {portal.key_id!r}, "
            "or install the portal again")


def jittered_backoff(failures: int) -> timedelta:
    """:func:`backoff_for` plus up to 10 % random jitter (portals failing together spread out)."""
    base = backoff_for(failures)
    return base + timedelta(seconds=random.uniform(0, base.total_seconds() / 10))


def record_failure(ctx: AppContext, portal: Portal, lease: Lease, actor: Actor, exc: DashboardError, *,
                   reauth: bool = False, duration_ms: int | None = None) -> RefreshOutcome:
    """Record a failed refresh through the health state machine, only while the row still holds the version
    ``portal`` was read at. A configuration failure moves no portal: it is one app-wide condition."""
    now = utcnow()
    cls = FailureClass.TERMINAL if reauth else classify(exc)
    kind = "invalid_grant" if cls == FailureClass.TERMINAL and not isinstance(exc, HubSpotError) else failure_kind(exc)
    description = _key_advice(portal, kind, exc) if kind in KEY_PROBLEMS else exc.description
    fields = answer_fields(exc, duration_ms=duration_ms)
    if cls == FailureClass.CONFIGURATION:
        def note(session: Session) -> None:
            audit.record(session, actor=actor.name, action="refresh", outcome="failure", hub_id=portal.hub_id,
                         detail=f"{kind}: {description[:300]} (app-wide: the portal's state is unchanged)",
                         fields=fields)

        ctx.write_together(note)
        report_configuration(ctx, exc, actor=actor.name)
        return RefreshOutcome(portal.hub_id, "failed", portal.expires_at, description)
    failures = portal.consecutive_failures + 1
    change = plan(portal, EVENTS[cls], now, key_kind=kind)
    values: PortalUpdate = {**change.values, "next_attempt_at": None}
    if cls == FailureClass.TRANSIENT:
        values["next_attempt_at"] = now + jittered_backoff(failures)
    elif cls == FailureClass.KEY:  # not HubSpot's: a few tries per key per pass (lifecycle/keys.py), no backoff
        values["next_attempt_at"] = now + backoff_for(failures) if kind == "undecryptable" else None
    values.update({"last_refresh_result": kind, "last_error": description[:500], "consecutive_failures": failures,
                   "last_refresh_at": now, "updated_at": now})
    release_lease_of = lease.row_owner
    # needs_reauth is published (row, alert, webhook) only while the row is still leased to us: once another
    # worker has taken the lease over, its refresh of this same version may yet succeed.
    terminal = cls == FailureClass.TERMINAL
    leased_to = lease.owner if terminal and ctx.leases.marks_row else None

    def write(session: Session) -> bool:
        written = repository.update_portal_at_version(session=session, hub_id=portal.hub_id,
                                                      version=portal.token_version, values=values,
                                                      release_lease_of=release_lease_of, leased_to=leased_to)
        audit.record(session, actor=actor.name, action="refresh", outcome="failure" if written else "stale",
                     hub_id=portal.hub_id, detail=f"{kind}: {description[:300]}"
                     + ("" if written else " (not recorded: the portal was refreshed meanwhile)"), fields=fields)
        if written:
            write_transition(session, change, actor=actor.name, cause=f"{kind}: {description[:300]}", at=now)
            transitions.refresh_failed(session, portal, values, kind=kind, reauth=terminal,
                                       threshold=ctx.settings.dashboard_alert_failure_threshold)
        return written

    written = ctx.write_together(write)  # the same path as a success's store
    lease.released_with_row(written)
    if not written:
        return RefreshOutcome(portal.hub_id, "conflict", message="another process refreshed this portal meanwhile")
    if cls != FailureClass.KEY:  # key problems are alerted once per key (lifecycle/keys.py)
        after_change(ctx, portal, change, failures=failures, detail=description, actor=actor.name)
    result: RefreshResult = "needs_reauth" if cls == FailureClass.TERMINAL else "failed"
    return RefreshOutcome(portal.hub_id, result, portal.expires_at, description)
