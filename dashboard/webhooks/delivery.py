"""Delivering the outbox: one pass over due deliveries, at least once, in order per endpoint and portal.

A pass claims due deliveries in small batches as its threads free up (the lease, like a portal's, is a
conditional UPDATE with an owner and an expiry), signs each body, re-checks the receiver's address (DNS can
change since the endpoint was added) and POSTs to the checked address through :mod:`dashboard.outbound`.
Each attempt is recorded, with the delivery's next state, only while the lease is still ours: a 2xx is
``succeeded``; anything else (non-2xx, redirect, timeout, refused connection, TLS error, a refused address)
waits the next step of ``DASHBOARD_WEBHOOK_RETRY_SCHEDULE`` and, once the schedule has run out, is ``failed``
(kept, shown, redeliverable). A worker killed mid-attempt writes nothing: its lease runs out and another
worker sends the same message (same ``webhook-id``) again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from dashboard import outbound, repository
from dashboard.context import AppContext
from dashboard.errors import DashboardError, InputError
from dashboard.models import utcnow
from dashboard.repository import LeasedDelivery
from dashboard.webhook_models import WEBHOOK_FAILED, WEBHOOK_PENDING, WEBHOOK_SUCCEEDED
from dashboard.webhooks import signing, ssrf

log = logging.getLogger(__name__)
MAX_PER_PASS = 2000  # a pass ends: whatever is still due waits for the next one
# While this process's refresh sweep runs, deliveries go one at a time with this gap: they share the sweep's
# interpreter (its GIL), and a burst of 1,000 at full speed slowed the sweep that caused it by half
# (bench/webhooks.py). One event still leaves within the 2 s; a burst drains at full speed after the sweep.
SWEEP_GAP_SECONDS = 0.1


@dataclass
class DeliveryPass:
    """What one pass did: attempts by outcome (``lost``: the lease ran out first, so nothing was recorded)."""

    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    lost: int = 0

    @property
    def attempts(self) -> int:
        return self.succeeded + self.retrying + self.failed + self.lost


def secret_aad(app: str, endpoint_id: int) -> bytes:
    """What an endpoint's encrypted secret is bound to: its app and id (a copied ciphertext does not open)."""
    return f"webhook-secret:{app}:{endpoint_id}".encode()


def signing_secrets(ctx: AppContext, d: LeasedDelivery, now: datetime) -> list[str]:
    """The current secret, and the previous one while its 24 h of grace last."""
    aad = secret_aad(ctx.app_id, d.endpoint_id)
    found = [ctx.cipher.decrypt(d.secret_key_id, d.secret_ct, aad=aad)]
    if d.previous_secret_ct and d.previous_secret_key_id and d.previous_secret_expires_at and \
            d.previous_secret_expires_at > now:
        found.append(ctx.cipher.decrypt(d.previous_secret_key_id, d.previous_secret_ct, aad=aad))
    return found


def next_state(schedule: Sequence[float], attempts_before: int, ok: bool,
               now: datetime) -> tuple[str, datetime | None]:
    """The delivery's status and next attempt after an attempt: the schedule's step for this attempt, or the end."""
    if ok:
        return WEBHOOK_SUCCEEDED, None
    if attempts_before < len(schedule):
        return WEBHOOK_PENDING, now + timedelta(seconds=schedule[attempts_before])
    return WEBHOOK_FAILED, None


def attempt(ctx: AppContext, client: outbound.WebhookClient, d: LeasedDelivery) -> outbound.WebhookAnswer:
    """Sign and POST one delivery to its checked address; never raises for the receiver's failures."""
    settings = ctx.settings
    try:
        target = ssrf.check_url(d.url, allow_private=settings.dashboard_webhook_allow_private)
    except InputError as exc:
        return outbound.WebhookAnswer(None, "", f"refused before sending: {exc.description}")
    parts = urlsplit(d.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    now = utcnow()
    body = d.payload.encode()
    try:
        secrets_ = signing_secrets(ctx, d, now)
    except DashboardError as exc:
        return outbound.WebhookAnswer(None, "", f"cannot read the endpoint's secret: {exc.description}")
    return outbound.post_webhook(client, scheme=target.scheme, host=target.host, port=target.port,
                                 address=target.address, path=path,
                                 body=body, headers=signing.headers(d.msg_id, now, body, secrets_),
                                 timeout=settings.dashboard_webhook_timeout_seconds)


def _one(ctx: AppContext, client: outbound.WebhookClient, d: LeasedDelivery, owner: str) -> str:
    started = time.monotonic()
    answer = attempt(ctx, client, d)
    now = utcnow()
    status, next_at = next_state(ctx.settings.webhook_retry_schedule, d.attempts, answer.ok, now)
    error = answer.error if answer.error is not None or answer.ok else f"answered HTTP {answer.status_code}"
    took = round((time.monotonic() - started) * 1000)
    try:
        written = ctx.write_together(lambda session: repository.finish_webhook_attempt(
            session=session, delivery_id=d.delivery_id, owner=owner, at=now, status_code=answer.status_code,
            error=error, response=answer.excerpt, duration_ms=took, status=status, next_attempt_at=next_at))
    except DashboardError as exc:  # its lease runs out and the delivery is attempted again
        log.warning("webhook delivery %s: its attempt could not be recorded (%s)", d.delivery_id, exc)
        return "lost"
    if not written:
        return "lost"
    return {WEBHOOK_SUCCEEDED: "succeeded", WEBHOOK_PENDING: "retrying"}.get(status, "failed")


def _claim(ctx: AppContext, owner: str, limit: int) -> list[LeasedDelivery]:
    now = utcnow()
    until = now + timedelta(seconds=ctx.settings.dashboard_webhook_lease_seconds)
    with ctx.session() as session:
        if not repository.any_webhook_due(session=session, now=now):  # a read: no write lock when idle
            return []
    with ctx.session() as session, ctx.writing():
        claimed = repository.claim_webhook_deliveries(session=session, owner=owner, now=now, until=until,
                                                      limit=limit)
        session.commit()
    if not claimed:
        return []
    with ctx.session() as session:
        return repository.webhook_deliveries_leased_to(session=session, owner=owner)


def deliver_due(ctx: AppContext, *, client: outbound.WebhookClient | None = None,
                stop: threading.Event | None = None, limit: int = MAX_PER_PASS,
                sweeping: threading.Event | None = None) -> DeliveryPass:
    """Attempt every due delivery (at most ``limit``), ``DASHBOARD_WEBHOOK_CONCURRENCY`` at a time (one at a
    time, :data:`SWEEP_GAP_SECONDS` apart, while ``sweeping`` is set).

    Claims follow completions: a portal's next event for an endpoint becomes due as soon as the one before
    it is done, so a burst to one portal drains in one pass, in order. A claim is made once half the threads
    are free (fewer write transactions). Database errors propagate (the runner retries the pass); a
    receiver's failures never do.
    """
    workers = ctx.settings.dashboard_webhook_concurrency
    own_client = client is None
    http = client if client is not None else outbound.webhook_client(pool_size=workers)
    result = DeliveryPass()
    started = 0
    running: set[Future[str]] = set()
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook") as pool:
            while True:
                paced = sweeping is not None and sweeping.is_set()
                free = (1 if paced else workers) - len(running)
                wanted = free > 0 and (not running or free >= workers // 2)
                if wanted and started < limit and not (stop is not None and stop.is_set()):
                    owner = f"wh:{uuid.uuid4().hex[:24]}"
                    for d in _claim(ctx, owner, min(free, limit - started)):
                        running.add(pool.submit(_one, ctx, http, d, owner))
                        started += 1
                if not running:
                    return result
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = future.result()
                    setattr(result, outcome, getattr(result, outcome) + 1)
                if paced:
                    (stop or threading.Event()).wait(SWEEP_GAP_SECONDS)
    finally:
        if own_client:
            http.close()
