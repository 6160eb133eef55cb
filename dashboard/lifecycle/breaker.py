"""HubSpot outages and app-wide configuration problems: detected, shown, and survived with a circuit breaker.

*HubSpot degraded*: within :data:`WINDOW` (5 minutes), at least :data:`MIN_PORTALS` portals and at least
half of the refresh attempts this process saw failed transiently. A configuration failure (HubSpot refuses
the app itself) is a condition of its own. Either one is an ``app_condition`` row, so every replica and the
CLI agree; while one is on, the sweeps switch to the breaker:

- one probe refresh at a time across replicas, at most every :func:`probe_every` (a conditional UPDATE
  takes the probe), with no in-call retries; the other due portals wait ("deferred"), untouched;
- a probe that succeeds ends the condition; every portal that failed transiently during it is due at once
  (its personal backoff cleared), and the same pass refreshes them with bounded concurrency.

Attempts are counted in the process that made them (each failed in-call attempt counts, so the first
wave of a sweep trips the breaker before its retries go out); the verdict is shared through the database.
The breaker's rule is per attempt; per-portal state (failing, backoff) still follows the state machine.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from dashboard import repository
from dashboard.context import AppContext
from dashboard.errors import DashboardError, HubSpotError
from dashboard.lifecycle.classify import FailureClass, classify, configuration_advice, describe
from dashboard.models import utcnow
from dashboard.webhooks import alerts, outbox

log = logging.getLogger(__name__)
WINDOW = 300.0
MIN_PORTALS = 5
MIN_SHARE = 0.5


def probe_every(ctx: AppContext) -> timedelta:
    """At most one probe refresh this often across replicas (DASHBOARD_BREAKER_PROBE_SECONDS, default 30 s)."""
    return timedelta(seconds=ctx.settings.dashboard_breaker_probe_seconds)


HUBSPOT = "hubspot"
CONFIGURATION = "configuration"
CACHE_S = 1.0


@dataclass(frozen=True)
class Condition:
    """An app-wide condition as the pages, the CLI and ``/metrics`` show it."""

    name: str
    active: bool
    since: datetime | None = None
    reason: str = ""


class Breaker:
    """One process's view: the attempts it saw, and a short cache of the shared conditions."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._attempts: deque[tuple[float, int, bool]] = deque()  # (monotonic, hub id, failed transiently)
        # Kept as attempts come and go, so a verdict is O(1): a sweep makes thousands of attempts a window.
        self._failed_by_hub: Counter[int] = Counter()
        self._failed = 0
        self._cached: tuple[float, dict[str, Condition]] | None = None
        self.owner = uuid.uuid4().hex

    # --- counting attempts ---

    def observe(self, hub_id: int, *, failed_transiently: bool) -> bool:
        """Count one refresh attempt; True when the attempts now say HubSpot is degraded."""
        now = self._clock()
        with self._lock:
            self._attempts.append((now, hub_id, failed_transiently))
            if failed_transiently:
                self._failed += 1
                self._failed_by_hub[hub_id] += 1
            while self._attempts and self._attempts[0][0] < now - WINDOW:
                _, old_hub, old_failed = self._attempts.popleft()
                if old_failed:
                    self._failed -= 1
                    self._failed_by_hub[old_hub] -= 1
                    if not self._failed_by_hub[old_hub]:
                        del self._failed_by_hub[old_hub]
            return len(self._failed_by_hub) >= MIN_PORTALS and self._failed >= MIN_SHARE * len(self._attempts)

    def forget(self) -> None:
        with self._lock:
            self._attempts.clear()
            self._failed_by_hub.clear()
            self._failed = 0

    # --- the shared conditions ---

    def conditions(self, ctx: AppContext, *, fresh: bool = False) -> dict[str, Condition]:
        cached = self._cached
        if not fresh and cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        found: dict[str, Condition] = {}
        with ctx.session() as session:
            for name in (HUBSPOT, CONFIGURATION):
                row = repository.get_condition(session=session, name=name)
                found[name] = Condition(name, bool(row and row.active), row.since if row else None,
                                        row.reason if row else "")
        self._cached = (time.monotonic(), found)
        return found

    def blocking(self, ctx: AppContext) -> Condition | None:
        """The condition that puts the sweeps behind the breaker, if any."""
        for condition in self.conditions(ctx).values():
            if condition.active:
                return condition
        return None

    def set(self, ctx: AppContext, name: str, active: bool, reason: str, *, actor: str) -> bool:
        """Turn a condition on or off for every replica; audit and alert only when it changed."""
        now = utcnow()
        with ctx.session() as session, ctx.writing():
            changed = repository.set_condition(session=session, name=name, active=active, now=now, reason=reason)
            if changed:
                outcome = "on" if active else "off"
                repository.insert_audit_event(session=session, at=now, actor=actor[:320], hub_id=None,
                                              action=f"condition.{name}", outcome=outcome, detail=reason[:1000])
                if name == HUBSPOT:  # the webhook event commits with the condition (transactional outbox)
                    outbox.hubspot_status_event(session, app=ctx.app_id, degraded=active, reason=reason[:1000],
                                                since=now)
            session.commit()
        self._cached = None
        if changed:
            log.warning("app condition %s %s: %s", name, "on" if active else "off", reason)
            event = {(HUBSPOT, True): "hubspot_degraded", (HUBSPOT, False): "hubspot_recovered",
                     (CONFIGURATION, True): "configuration", (CONFIGURATION, False): "configuration_fixed"}
            alerts.send_app_alert(ctx, event=event[(name, active)], detail=reason)
        return changed

    def take_probe(self, ctx: AppContext, name: str) -> bool:
        with ctx.session() as session, ctx.writing():
            won = repository.take_probe(session=session, name=name, owner=self.owner, now=utcnow(),
                                        every=probe_every(ctx))
            session.commit()
        return won

    def seconds_to_probe(self, ctx: AppContext) -> float | None:
        """While a condition is on: seconds until the next probe may go (the worker sleeps no longer)."""
        with ctx.session() as session:
            for name in (HUBSPOT, CONFIGURATION):
                row = repository.get_condition(session=session, name=name)
                if row is not None and row.active:
                    if row.probe_at is None:
                        return 0.0
                    return max(0.0, (row.probe_at + probe_every(ctx) - utcnow()).total_seconds())
        return None


_breakers: weakref.WeakKeyDictionary[Engine, dict[str, Breaker]] = weakref.WeakKeyDictionary()
_breakers_lock = threading.Lock()


def breaker_for(ctx: AppContext) -> Breaker:
    """This process's breaker for ``ctx``'s database and app (the database holds the shared part; each app's
    conditions are its own: one app's refused credentials never hold back another's refreshes)."""
    with _breakers_lock:
        per_app = _breakers.setdefault(ctx.engine, {})
        found = per_app.get(ctx.app_id)
        if found is None:
            found = per_app[ctx.app_id] = Breaker()
        return found


class Gate:
    """``may_retry`` for one refresh call: counts each failed attempt; no retry once HubSpot is degraded or
    while probing."""

    def __init__(self, ctx: AppContext, breaker: Breaker, hub_id: int, *, probing: bool, actor: str) -> None:
        self.ctx, self.breaker, self.hub_id, self.probing, self.actor = ctx, breaker, hub_id, probing, actor
        self._seen: HubSpotError | None = None

    def proceed(self) -> bool:
        return not self.probing and self.breaker.blocking(self.ctx) is None

    def __call__(self, exc: HubSpotError) -> bool:
        if exc is self._seen:  # raised again by proceed(): counted already
            return False
        self._seen = exc
        transient = classify(exc) == FailureClass.TRANSIENT
        if self.probing:
            return False
        if transient and self.breaker.observe(self.hub_id, failed_transiently=True):
            trip(self.ctx, self.breaker, exc, actor=self.actor)
            return False
        return transient and self.breaker.blocking(self.ctx) is None


def trip(ctx: AppContext, breaker: Breaker, exc: DashboardError, *, actor: str) -> None:
    """HubSpot is degraded: say so once, for every replica."""
    answer = describe(exc.answer) if isinstance(exc, HubSpotError) else exc.code
    breaker.set(ctx, HUBSPOT, True, f"refreshes failing across portals; HubSpot answered: {answer}", actor=actor)


def report_configuration(ctx: AppContext, exc: DashboardError, *, actor: str) -> None:
    breaker_for(ctx).set(ctx, CONFIGURATION, True, configuration_advice(exc), actor=actor)


def recovered(ctx: AppContext, *, actor: str) -> int:
    """A refresh succeeded while a condition was on: end it, and make every portal that failed transiently
    during it due at once. How many portals were released from their backoff."""
    breaker = breaker_for(ctx)
    conditions = breaker.conditions(ctx, fresh=True)
    released = 0
    for name, condition in conditions.items():
        if not condition.active:
            continue
        if name == HUBSPOT and condition.since is not None:
            with ctx.session() as session, ctx.writing():
                released = repository.release_backoff_since(session=session, since=condition.since - timedelta(
                    seconds=WINDOW))
                session.commit()
        breaker.set(ctx, name, False, "a refresh succeeded again", actor=actor)
    breaker.forget()
    return released


def status(ctx: AppContext) -> dict[str, Condition]:
    """The shared conditions, read now (``health --json``, the banner, ``/metrics``)."""
    return breaker_for(ctx).conditions(ctx, fresh=True)



def report(ctx: AppContext) -> dict[str, Any]:
    """The app-wide health as ``python -m dashboard health --json`` prints it (and the banner shows it)."""
    found = status(ctx)
    hubspot, config = found[HUBSPOT], found[CONFIGURATION]
    with ctx.session() as session:
        keys = repository.active_conditions(session=session, prefix="key:")
    return {
        "hubspot": {"degraded": hubspot.active, "since": _iso(hubspot.since) if hubspot.active else None,
                    "reason": hubspot.reason if hubspot.active else None},
        "configuration": {"problem": config.active, "since": _iso(config.since) if config.active else None,
                          "reason": config.reason if config.active else None},
        "keys": [{"key_id": k.name[len("key:"):], "since": _iso(k.since), "reason": k.reason} for k in keys],
    }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
