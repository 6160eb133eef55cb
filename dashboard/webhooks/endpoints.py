"""Managing webhook endpoints (admins only, audited): add, list, remove, rotate the secret, deliveries,
redeliver, send a test event. The Settings page and ``python -m dashboard webhooks ...`` call these.

A secret is returned once, by :func:`add_endpoint` and :func:`rotate_secret`, and stored encrypted: the
workers need it to sign. A URL may carry a token of the receiver's (``?key=...``), so views and the audit
log show only its scheme, host and path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlmodel import Session

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import CryptoError, InputError, NotFoundError
from dashboard.models import utcnow
from dashboard.repository import DeliveryRow
from dashboard.security import audit
from dashboard.security.crypto import TokenCipher
from dashboard.security.guard import require
from dashboard.webhook_models import WEBHOOK_FAILED, WEBHOOK_PENDING, WEBHOOK_SUCCEEDED, WebhookEndpoint
from dashboard.webhooks import events, outbox, signing, ssrf
from dashboard.webhooks.delivery import secret_aad

ROTATION_GRACE = timedelta(hours=24)
DELIVERY_STATUSES = (WEBHOOK_PENDING, WEBHOOK_SUCCEEDED, WEBHOOK_FAILED)
MAX_URL = 2000


@dataclass(frozen=True)
class EndpointInfo:
    """What leaves the core about an endpoint: never its secret."""

    id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    created_by: str
    created_at: datetime | None
    rotating_until: datetime | None  # the previous secret still signs until then

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)


@dataclass(frozen=True)
class CreatedEndpoint:
    """A new endpoint (or a rotated secret) and its secret, to be shown once; ``__repr__`` hides the secret."""

    secret: str
    endpoint: EndpointInfo

    def __repr__(self) -> str:
        return f"CreatedEndpoint(id={self.endpoint.id})"


def shown_url(url: str) -> str:
    """Scheme, host, port and path: a query string or user info may hold the receiver's own token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}" + ("?…" if parts.query else "")


def _info(row: WebhookEndpoint, now: datetime) -> EndpointInfo:
    assert row.id is not None
    rotating = row.previous_secret_expires_at
    return EndpointInfo(row.id, row.url, row.description, tuple(row.event_types.split()), row.created_by,
                        row.created_at, rotating if rotating is not None and rotating > now else None)


def _check_types(types: Sequence[str]) -> tuple[str, ...]:
    unknown = [t for t in types if t not in events.EVENT_TYPES]
    if unknown:
        raise InputError(f"unknown event type {unknown[0][:64]!r}; one of: {', '.join(events.EVENT_TYPES)}")
    return tuple(dict.fromkeys(types))


def add_endpoint(ctx: AppContext, *, actor: Actor, url: str, event_types: Sequence[str] = (),
                 description: str = "") -> CreatedEndpoint:
    """A new endpoint for ``event_types`` (none: every type). The URL is checked (https, public address)."""
    require(ctx.engine, actor, "settings", action="webhooks.add")
    url = url.strip()
    if len(url) > MAX_URL:
        raise InputError(f"the webhook URL is longer than {MAX_URL} characters")
    ssrf.check_url(url, allow_private=ctx.settings.dashboard_webhook_allow_private)
    types = _check_types(event_types)
    secret = signing.new_secret()
    now = utcnow()
    row = WebhookEndpoint(url=url, description=description.strip()[:500], event_types=" ".join(types),
                          secret_ct="", secret_key_id="", created_by=actor.name[:320], created_at=now)
    with ctx.session() as session, ctx.writing():
        endpoint_id = repository.add_webhook_endpoint(session=session, endpoint=row)
        key_id, sealed = ctx.cipher.encrypt(secret, aad=secret_aad(ctx.app_id, endpoint_id))
        repository.update_webhook_endpoint(session=session, endpoint_id=endpoint_id,
                                           values={"secret_ct": sealed, "secret_key_id": key_id})
        audit.record(session, actor=actor.name, action="webhooks.add", outcome="success",
                     detail=f"endpoint {endpoint_id} {shown_url(url)}; events {' '.join(types) or 'all'}")
        session.commit()
    row.id = endpoint_id
    return CreatedEndpoint(secret, _info(row, now))


def list_endpoints(ctx: AppContext, *, actor: Actor) -> list[EndpointInfo]:
    require(ctx.engine, actor, "settings", action="webhooks.list")
    now = utcnow()
    with ctx.session() as session:
        return [_info(r, now) for r in repository.list_webhook_endpoints(session=session)]


def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    row = repository.get_webhook_endpoint(session=session, endpoint_id=endpoint_id)
    if row is None:
        raise NotFoundError(f"no webhook endpoint {endpoint_id}")
    return row


def remove_endpoint(ctx: AppContext, *, actor: Actor, endpoint_id: int) -> None:
    """Remove an endpoint: nothing more is sent to it; its pending deliveries end as failed (kept)."""
    require(ctx.engine, actor, "settings", action="webhooks.remove")
    now = utcnow()
    with ctx.session() as session, ctx.writing():
        row = _endpoint(session, endpoint_id)
        repository.update_webhook_endpoint(session=session, endpoint_id=endpoint_id, values={"removed_at": now})
        dropped = repository.fail_webhook_deliveries_of(session=session, endpoint_id=endpoint_id, now=now)
        audit.record(session, actor=actor.name, action="webhooks.remove", outcome="success",
                     detail=f"endpoint {endpoint_id} {shown_url(row.url)}; {dropped} pending deliveries ended")
        session.commit()


def rotate_secret(ctx: AppContext, *, actor: Actor, endpoint_id: int) -> CreatedEndpoint:
    """A new secret; the current one keeps signing too (two signatures) for 24 hours."""
    require(ctx.engine, actor, "settings", action="webhooks.rotate_secret")
    secret = signing.new_secret()
    now = utcnow()
    aad = secret_aad(ctx.app_id, endpoint_id)
    with ctx.session() as session, ctx.writing():
        row = _endpoint(session, endpoint_id)
        key_id, sealed = ctx.cipher.encrypt(secret, aad=aad)
        values = {"secret_ct": sealed, "secret_key_id": key_id, "previous_secret_ct": row.secret_ct,
                  "previous_secret_key_id": row.secret_key_id, "previous_secret_expires_at": now + ROTATION_GRACE}
        repository.update_webhook_endpoint(session=session, endpoint_id=endpoint_id, values=values)
        audit.record(session, actor=actor.name, action="webhooks.rotate_secret", outcome="success",
                     detail=f"endpoint {endpoint_id}; the previous secret signs too until "
                            f"{(now + ROTATION_GRACE).isoformat(timespec='seconds')}")
        session.commit()
    for key, value in values.items():
        setattr(row, key, value)
    return CreatedEndpoint(secret, _info(row, now))


def list_deliveries(ctx: AppContext, *, actor: Actor, endpoint_id: int | None = None, status: str | None = None,
                    limit: int = 100) -> list[DeliveryRow]:
    """The newest deliveries first: status, attempts, last HTTP status, 1 KB of the last answer, next attempt."""
    require(ctx.engine, actor, "settings", action="webhooks.deliveries")
    if status is not None and status not in DELIVERY_STATUSES:
        raise InputError(f"a delivery status is one of {', '.join(DELIVERY_STATUSES)}")
    with ctx.session() as session:
        return repository.list_webhook_deliveries(session=session, endpoint_id=endpoint_id, status=status,
                                                  limit=max(1, min(limit, 1000)))


def redeliver(ctx: AppContext, *, actor: Actor, delivery_id: int) -> None:
    """Send a delivery again (failed, succeeded or waiting): pending now, with the full retry schedule."""
    require(ctx.engine, actor, "settings", action="webhooks.redeliver")
    with ctx.session() as session, ctx.writing():
        if not repository.redeliver_webhook(session=session, delivery_id=delivery_id, now=utcnow()):
            raise NotFoundError(f"no webhook delivery {delivery_id}")
        audit.record(session, actor=actor.name, action="webhooks.redeliver", outcome="success",
                     detail=f"delivery {delivery_id}")
        session.commit()


def send_test(ctx: AppContext, *, actor: Actor, endpoint_id: int) -> int:
    """Queue a ``webhook.test`` event to this endpoint only; the id of its delivery's event."""
    require(ctx.engine, actor, "settings", action="webhooks.test")
    with ctx.session() as session, ctx.writing():
        _endpoint(session, endpoint_id)
        data = events.service_data(app=ctx.app_id, status="test", reason=f"a test event sent by {actor.name[:100]}",
                                   extra={"endpoint_id": endpoint_id})
        event_id = outbox.enqueue(session, event_type=events.TEST, data=data, endpoint_ids=[endpoint_id])
        audit.record(session, actor=actor.name, action="webhooks.test", outcome="success",
                     detail=f"endpoint {endpoint_id}")
        session.commit()
    assert event_id is not None
    return event_id


def reseal_secrets(session: Session, cipher: TokenCipher) -> int:
    """Re-encrypt every endpoint's secrets (every app) under the cipher's primary key, in the caller's
    transaction; how many endpoints were rewritten. ``keys rotate`` calls it, so removing an old key never
    leaves a webhook secret unreadable."""
    primary = cipher.primary_key_id
    done = 0
    for row in repository.webhook_endpoints_off_key(session=session, key_id=primary):
        assert row.id is not None
        aad = secret_aad(row.app, row.id)
        values: dict[str, str] = {}
        for ct, kid, prefix in ((row.secret_ct, row.secret_key_id, ""),
                                (row.previous_secret_ct, row.previous_secret_key_id, "previous_")):
            if ct and kid and kid != primary:
                try:
                    plain = cipher.decrypt(kid, ct, aad=aad)
                except CryptoError:  # its key is gone: left as it is (its deliveries say so per attempt)
                    continue
                key_id, sealed = cipher.encrypt(plain, aad=aad)
                values.update({f"{prefix}secret_ct": sealed, f"{prefix}secret_key_id": key_id})
        if values and repository.reseal_webhook_endpoint(session=session, endpoint_id=row.id, values=values):
            done += 1
    return done
