"""The delivery thread a refresh worker runs beside its sweep (embedded and ``refresh --due --loop``).

It has its own thread and thread pool, so a receiver that hangs for its whole timeout never delays a refresh:
the sweep only shares the database with it. It looks for due deliveries every
``DASHBOARD_WEBHOOK_POLL_SECONDS`` (1 s: the first attempt starts within 2 s of the commit) and at once after
a pass that found work. A failing database is retried with a backoff capped at a minute.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from dashboard import outbound
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.webhooks.delivery import DeliveryPass, deliver_due

log = logging.getLogger(__name__)
MAX_BACKOFF = 60.0


class DeliveryLoop:
    """``start(stop)`` runs passes in a daemon thread until ``stop`` is set; ``join`` waits for it."""

    def __init__(self, ctx: AppContext, *, on_pass: Callable[[DeliveryPass], None] | None = None,
                 sweeping: threading.Event | None = None) -> None:
        self.ctx = ctx
        self.on_pass = on_pass
        self.sweeping = sweeping  # set while this process's refresh sweep runs: deliveries are paced
        self.thread: threading.Thread | None = None

    def run(self, stop: threading.Event) -> None:
        poll = self.ctx.settings.dashboard_webhook_poll_seconds
        errors = 0
        client = outbound.webhook_client(pool_size=self.ctx.settings.dashboard_webhook_concurrency)
        try:
            while not stop.is_set():
                try:
                    result = deliver_due(self.ctx, client=client, stop=stop, sweeping=self.sweeping)
                except (SQLAlchemyError, DashboardError) as exc:
                    errors += 1
                    log.warning("webhook deliveries: the pass failed (%s); retrying", exc.__class__.__name__)
                    stop.wait(min(poll * 2 ** errors, MAX_BACKOFF))
                    continue
                except Exception:  # a bug must not end the deliveries of a long-running worker
                    errors += 1
                    log.exception("webhook deliveries: the pass crashed; retrying")
                    stop.wait(min(poll * 2 ** errors, MAX_BACKOFF))
                    continue
                errors = 0
                if self.on_pass is not None and result.attempts:
                    self.on_pass(result)
                if not result.attempts:
                    stop.wait(poll)
        finally:
            client.close()

    def start(self, stop: threading.Event) -> DeliveryLoop:
        self.thread = threading.Thread(target=self.run, args=(stop,), name="webhook-deliveries", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float = 15.0) -> None:
        if self.thread is not None:
            self.thread.join(timeout)
