"""The refresh worker loop, shared by ``refresh --due --loop`` and the worker embedded in each dashboard server.

Each pass runs :func:`dashboard.refresh.service.refresh_due` and writes the worker's heartbeat row, so the pages,
``python -m dashboard workers`` and ``/readyz`` can tell whether anything keeps the tokens fresh. A
database that fails (locked, read-only, full, gone) does not end the loop: the pass is retried after a
bounded backoff, because a worker that exits on the first error leaves every portal to expire. A stop
event ends it promptly: refreshes in flight finish and store their tokens, none starts.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from dashboard import repository
from dashboard.actors import OPERATOR, Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.lifecycle import timeline
from dashboard.lifecycle.breaker import breaker_for
from dashboard.models import WorkerHeartbeat, utcnow
from dashboard.ops import counters
from dashboard.refresh import service as refresh
from dashboard.security.guard import require
from dashboard.webhooks.runner import DeliveryLoop

log = logging.getLogger(__name__)
MAX_ERROR_BACKOFF = 60.0  # seconds: a database outage is retried at least once a minute
FORGET_AFTER = timedelta(days=7)  # heartbeat rows of workers silent this long are removed
FAILED_RESULTS = frozenset({"failed", "needs_reauth", "unsaved"})
PRUNE_EVERY = 300.0  # seconds between the timeline's retention passes of one worker


def new_worker_id(kind: str) -> str:
    host = socket.gethostname()[:30]
    return f"{kind}:{host}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def worker_actor(worker_id: str) -> Actor:
    """Who a worker is in the audit log: ``worker:<its id>``, with the operator role refreshing needs."""
    return Actor(f"worker:{worker_id}", OPERATOR)


def error_backoff(errors: int, interval: float) -> float:
    """Seconds to wait after ``errors`` consecutive failed passes: the interval doubled, capped at a minute."""
    return float(min(max(interval, 0.5) * 2.0 ** max(0, errors - 1), max(MAX_ERROR_BACKOFF, interval)))


@dataclass
class PassResult:
    outcomes: list[refresh.RefreshOutcome]
    error: str | None = None

    @property
    def refreshed(self) -> int:
        return sum(1 for o in self.outcomes if o.result == "refreshed")

    @property
    def failures(self) -> int:
        return sum(1 for o in self.outcomes if o.result in FAILED_RESULTS)


class RefreshWorker:
    """One worker: ``run(stop)`` sweeps every ``interval`` seconds until ``stop`` is set."""

    def __init__(self, ctx: AppContext, *, kind: str, interval: float, concurrency: int = 8,
                 within: timedelta | None = None,
                 on_pass: Callable[[PassResult], None] | None = None, apps: Sequence[str] | None = None) -> None:
        self.ctx = ctx
        # One worker serves every configured app (or the ``apps`` named): each app's pass uses its own
        # credentials, HubSpot host, leases and breaker.
        self.apps = list(apps) if apps else None
        self.kind = kind
        self.interval = interval
        self.concurrency = concurrency
        self.within = within
        self.on_pass = on_pass
        self.worker_id = new_worker_id(kind)
        self.actor = worker_actor(self.worker_id)  # a worker acts as itself, never as whoever started it
        self._totals = {"total_sweeps": 0, "total_refreshed": 0, "total_failures": 0}
        self.sweeping = threading.Event()  # the webhook deliveries beside the sweep pace themselves meanwhile
        self._started = False
        self._pruned_at = -math.inf

    def _beat(self, values: dict[str, Any]) -> None:
        """Write the heartbeat; a failure is logged, never raised (the sweep matters more than its record)."""
        try:
            with self.ctx.session() as session, self.ctx.writing():
                repository.save_heartbeat(session=session, worker_id=self.worker_id, values=values)
                session.commit()
        except (SQLAlchemyError, DashboardError) as exc:
            log.warning("worker %s: cannot write its heartbeat (%s)", self.worker_id, exc.__class__.__name__)

    def _start_row(self) -> None:
        now = utcnow()
        self._beat({"kind": self.kind, "host": socket.gethostname()[:255], "pid": os.getpid(),
                    "interval_seconds": self.interval, "started_at": now, "stopped_at": None, **self._totals})
        try:
            with self.ctx.session() as session, self.ctx.writing():
                repository.delete_heartbeats_before(session=session, before=now - FORGET_AFTER)
                session.commit()
        except (SQLAlchemyError, DashboardError):
            pass  # housekeeping only
        self._started = True

    def run_pass(self, stop: threading.Event | None = None) -> PassResult:
        """One sweep and its heartbeat. A database error becomes ``PassResult.error``, never an exception."""
        if not self._started:
            self._start_row()
        started = utcnow()
        self._beat({"last_sweep_started_at": started})
        clock = time.monotonic()
        self.sweeping.set()
        outcomes: list[refresh.RefreshOutcome] = []
        errors: list[str] = []
        contexts = self.contexts()
        try:
            for ctx in contexts:  # one app after another: each pass is bounded, so the whole is too
                if stop is not None and stop.is_set():
                    break
                try:
                    done = refresh.refresh_due(ctx, within=self.within, concurrency=self.concurrency,
                                               actor=self.actor, stop=stop)
                except (SQLAlchemyError, DashboardError) as exc:
                    # The class name only: a driver's message can carry the SQL statement and its parameters.
                    error = exc.description if isinstance(exc, DashboardError) else \
                        f"the database failed ({exc.__class__.__name__})"
                    errors.append(error if len(contexts) == 1 else f"app {ctx.app_id}: {error}")
                    continue
                outcomes += [replace(o, app=ctx.app_id) for o in done]
                counters.record_refreshes(ctx.app_id, [o.result for o in done])
        finally:
            self.sweeping.clear()
        if errors:
            error = "; ".join(errors)
            log.error("worker %s: sweep failed: %s", self.worker_id, error)
            counters.record_sweep(self.worker_id, [], time.monotonic() - clock, failed=True)
            self._beat({"last_error": error[:500]})
            return PassResult(outcomes, error)
        result = PassResult(outcomes)
        counters.record_sweep(self.worker_id, [], time.monotonic() - clock)
        self._totals["total_sweeps"] += 1
        self._totals["total_refreshed"] += result.refreshed
        self._totals["total_failures"] += result.failures
        self._beat({"last_sweep_started_at": started, "last_sweep_ended_at": utcnow(),
                    "last_refreshed": result.refreshed, "last_failures": result.failures, "last_error": None,
                    **self._totals})
        self._housekeeping()
        return result

    def _housekeeping(self) -> None:
        """The timeline's retention: bounded batches, at most every PRUNE_EVERY; never fails the pass."""
        if time.monotonic() - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = time.monotonic()
        try:
            removed = timeline.prune(self.ctx)
        except (SQLAlchemyError, DashboardError) as exc:
            log.warning("worker %s: cannot prune the timeline (%s)", self.worker_id, exc.__class__.__name__)
            return
        if removed:
            log.info("worker %s: pruned %s timeline events past the retention", self.worker_id, removed)

    def contexts(self) -> list[AppContext]:
        """The context of each app this worker sweeps."""
        if self.apps is not None:
            return [self.ctx.for_app(app_id) for app_id in self.apps]
        return self.ctx.each_app() if self.ctx.apps is not None else [self.ctx]

    def held(self) -> int:
        """Refreshed tokens held only in memory, over every app this worker sweeps."""
        return sum(len(ctx.unsaved) for ctx in self.contexts())

    def next_wait(self, errors: int) -> float:
        """Seconds to the next pass: the interval; after failed passes their backoff; while HubSpot is degraded
        no longer than until the breaker's next probe may go (recovery is seen within 30 s)."""
        if errors:
            return error_backoff(errors, self.interval)
        try:
            waits = [breaker_for(ctx).seconds_to_probe(ctx) for ctx in self.contexts()]
        except (SQLAlchemyError, DashboardError):
            waits = []
        probe_in = min((w for w in waits if w is not None), default=None)
        return self.interval if probe_in is None else max(0.2, min(self.interval, probe_in + 0.05))

    def run(self, stop: threading.Event, *, once: bool = False) -> PassResult:
        """Sweep until ``stop`` is set (or one pass with ``once``); the last pass's result."""
        require(self.ctx.engine, self.actor, "refresh", action="refresh")
        errors = 0
        result = PassResult([])
        # Webhook deliveries run beside the sweeps, in their own thread: a slow receiver never delays a refresh.
        halt = threading.Event()  # not ``stop``: the embedded worker restarts a crashed run with the same event
        # One delivery loop per app: endpoints and their deliveries belong to an app.
        deliveries = [] if once else [DeliveryLoop(ctx, on_pass=counters.record_webhook_pass,
                                                   sweeping=self.sweeping).start(halt) for ctx in self.contexts()]
        try:
            while True:
                result = self.run_pass(stop)
                if self.on_pass is not None:
                    self.on_pass(result)
                if stop.is_set() or (once and not self.held()):
                    # Even a single pass does not end while tokens are held only in memory: retried until stored.
                    return result
                errors = errors + 1 if result.error else 0
                stop.wait(self.next_wait(errors))
                if stop.is_set():
                    return result
        finally:
            halt.set()
            for loop in deliveries:
                loop.join()
            self._beat({"stopped_at": utcnow()})


# --- the embedded worker ---------------------------------------------------------------------------------

class EmbeddedWorker:
    """The worker thread of one dashboard server process (started and stopped by its lifespan)."""

    def __init__(self, ctx: AppContext) -> None:
        s = ctx.settings
        self.worker = RefreshWorker(ctx, kind="embedded", interval=s.dashboard_worker_interval_seconds,
                                    concurrency=s.dashboard_worker_concurrency)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._main, name="embedded-refresh-worker", daemon=True)
        self.started_at: datetime | None = None

    def _main(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.worker.run(self.stop_event)
            except Exception:  # a bug must not silently end the process's only worker
                log.exception("embedded worker %s crashed; restarting it", self.worker.worker_id)
                self.stop_event.wait(MAX_ERROR_BACKOFF)

    def start(self) -> EmbeddedWorker:
        self.started_at = utcnow()
        self.thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Set the stop event and wait for refreshes in flight to store their tokens."""
        self.stop_event.set()
        self.thread.join(timeout)


_embedded_lock = threading.Lock()
_embedded: EmbeddedWorker | None = None


def start_embedded(ctx: AppContext) -> EmbeddedWorker | None:
    """Start this process's embedded worker unless one runs or ``DASHBOARD_EMBEDDED_WORKER`` is false."""
    global _embedded  # exactly one per server process is the point
    if not ctx.settings.dashboard_embedded_worker:
        return None
    with _embedded_lock:
        if _embedded is not None and _embedded.thread.is_alive():
            return _embedded
        _embedded = EmbeddedWorker(ctx).start()
        log.info("embedded refresh worker %s started (every %.0f s)", _embedded.worker.worker_id,
                 ctx.settings.dashboard_worker_interval_seconds)
        return _embedded


def stop_embedded() -> None:
    global _embedded
    with _embedded_lock:
        worker, _embedded = _embedded, None
    if worker is not None:
        worker.stop()


# --- what the pages, the CLI and /readyz show -------------------------------------------------------------

@dataclass(frozen=True)
class WorkerView:
    worker_id: str
    kind: str
    host: str
    pid: int
    interval_seconds: float
    started_at: datetime | None
    last_sweep_ended_at: datetime | None
    last_refreshed: int
    last_failures: int
    total_refreshed: int
    total_failures: int
    last_error: str | None
    stopped_at: datetime | None

    def seconds_since_sweep(self, now: datetime) -> float | None:
        return None if self.last_sweep_ended_at is None else (now - self.last_sweep_ended_at).total_seconds()

    def on_time(self, now: datetime) -> bool:
        """Swept within twice its interval (plus a second for the sweep itself)."""
        ago = self.seconds_since_sweep(now)
        return ago is not None and ago <= 2 * self.interval_seconds + 1


@dataclass(frozen=True)
class SweepStatus:
    """The latest sweep of any worker, and whether some worker swept on time."""

    workers: list[WorkerView]
    healthy: bool
    message: str
    # A worker started less than twice its interval ago has not swept yet: nothing is wrong so far.
    starting: bool = False


def _first_sweep_due(started_at: datetime | None, interval: float, now: datetime) -> float | None:
    """Seconds since ``started_at`` while a first sweep is still expected on time, else None."""
    if started_at is None:
        return None
    ago = (now - started_at).total_seconds()
    return ago if ago <= 2 * interval + 1 else None


def _starting(workers: list[WorkerView], interval: float, now: datetime) -> tuple[str, float] | None:
    """A worker that started recently and has not swept since: ``(kind, seconds since its start)``.

    This process's embedded worker counts before its heartbeat row is written (its first database write)."""
    for w in workers:
        fresh = w.last_sweep_ended_at is None or (w.started_at is not None and w.last_sweep_ended_at < w.started_at)
        ago = _first_sweep_due(w.started_at, w.interval_seconds, now)
        if w.stopped_at is None and fresh and ago is not None:
            return w.kind, ago
    with _embedded_lock:
        embedded = _embedded
    if embedded is not None and embedded.thread.is_alive():
        ago = _first_sweep_due(embedded.started_at, interval, now)
        if ago is not None:
            return "embedded", ago
    return None


def _view(row: WorkerHeartbeat) -> WorkerView:
    return WorkerView(row.worker_id, row.kind, row.host, row.pid, row.interval_seconds, row.started_at,
                      row.last_sweep_ended_at, row.last_refreshed, row.last_failures, row.total_refreshed,
                      row.total_failures, row.last_error, row.stopped_at)


def list_workers(ctx: AppContext, *, actor: Actor) -> list[WorkerView]:
    require(ctx.engine, actor, "view", action="workers.list")
    with ctx.session() as session:
        return [_view(r) for r in repository.list_heartbeats(session=session)]


def sweep_status(ctx: AppContext, *, actor: Actor, now: datetime | None = None) -> SweepStatus:
    """"last sweep N s ago by WORKER", or a warning when no worker swept within twice its interval."""
    now = now or utcnow()
    workers = list_workers(ctx, actor=actor)
    swept = [w for w in workers if w.last_sweep_ended_at is not None]
    on_time = [w for w in swept if w.on_time(now)]
    if on_time:
        latest = on_time[0]
        ago = latest.seconds_since_sweep(now) or 0.0
        return SweepStatus(workers, True, f"Last sweep {max(0, round(ago))} s ago by {latest.worker_id}.")
    starting = _starting(workers, ctx.settings.dashboard_worker_interval_seconds, now)
    if starting is not None:
        who = "The embedded worker" if starting[0] == "embedded" else "A refresh worker"
        return SweepStatus(workers, True, f"{who} is starting its first sweep (started {max(0, round(starting[1]))} "
                           "s ago).", starting=True)
    if not swept:
        return SweepStatus(workers, False, "No refresh worker has swept yet: tokens are refreshed only on use. "
                           "Start the dashboard with DASHBOARD_EMBEDDED_WORKER=true (the default) or run "
                           "`python -m dashboard refresh --due --loop`.")
    latest = swept[0]
    ago = latest.seconds_since_sweep(now) or 0.0
    return SweepStatus(workers, False, f"No worker swept within twice its interval: the last sweep was "
                       f"{round(ago)} s ago by {latest.worker_id}. Check that a dashboard with the embedded "
                       "worker or `python -m dashboard refresh --due --loop` is running.")
