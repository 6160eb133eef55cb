"""SQLModel tables of the lifecycle webhooks: endpoints, the outbox of events, one delivery per (event,
endpoint), and one row per delivery attempt.

The outbox: an event row and its delivery rows are inserted by :func:`dashboard.webhooks.outbox.enqueue` in
the transaction that makes the change they report, so neither exists without the other. A delivery is
``pending`` until a worker's attempt succeeds (``succeeded``) or the retry schedule runs out (``failed``,
kept and redeliverable). Workers lease a delivery the way they lease a portal (``lease_owner`` with an
expiry), so a killed worker's delivery is taken again by another once its lease runs out. Kept in its own
module (re-exported by :mod:`dashboard.models`) so that one stays under 300 lines.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, SmallInteger, String, Text
from sqlmodel import Field, SQLModel

from dashboard.utc_datetime import utc_column

WEBHOOK_PENDING, WEBHOOK_SUCCEEDED, WEBHOOK_FAILED = "pending", "succeeded", "failed"


class WebhookEndpoint(SQLModel, table=True):
    """A receiver. Its signing secret is stored encrypted (the token cipher, bound to the endpoint id); the
    previous secret stays valid until ``previous_secret_expires_at`` after a rotation (both sign)."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    app: str = Field(default="default", sa_column=Column(String(64), nullable=False, server_default="default"))
    url: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Space-joined event types this endpoint wants; empty: every type.
    event_types: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    secret_ct: str = Field(sa_column=Column(Text, nullable=False))
    secret_key_id: str = Field(max_length=32)
    previous_secret_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    previous_secret_key_id: str | None = Field(default=None, max_length=32)
    previous_secret_expires_at: datetime | None = utc_column()
    created_by: str = Field(default="", max_length=320)
    created_at: datetime | None = utc_column()
    removed_at: datetime | None = utc_column()


class WebhookEvent(SQLModel, table=True):
    """One event in the outbox. ``msg_id`` is the ``webhook-id`` header: the same on every retry and endpoint.
    ``payload`` is the JSON body, built once at enqueue (what was true when the change committed)."""

    __tablename__ = "webhook_event"

    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(max_length=64, unique=True)
    app: str = Field(default="default", sa_column=Column(String(64), nullable=False, server_default="default"))
    event_type: str = Field(max_length=64)
    hub_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = utc_column(nullable=False)


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint. ``hub_id`` (0: not about one portal) orders deliveries: per endpoint, a
    portal's delivery is attempted only when no earlier one of the same portal is still pending."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_chain", "endpoint_id", "hub_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(index=True)
    endpoint_id: int
    hub_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    status: str = Field(default=WEBHOOK_PENDING, max_length=16)
    attempts: int = Field(default=0, sa_column=Column(SmallInteger, nullable=False, default=0))
    next_attempt_at: datetime | None = utc_column()
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = utc_column()
    last_attempt_at: datetime | None = utc_column()
    last_status_code: int | None = Field(default=None)
    last_response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # at most 1 KB
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    delivered_at: datetime | None = utc_column()
    created_at: datetime | None = utc_column(nullable=False)


class WebhookAttempt(SQLModel, table=True):
    """One attempt of one delivery: when, the HTTP status (None: no answer), our one-line error, 1 KB of answer."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(index=True)
    at: datetime | None = utc_column(nullable=False)
    status_code: int | None = Field(default=None)
    duration_ms: int = Field(default=0)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
