"""The lifecycle event types and their payloads: ``{"type", "timestamp", "data": {...}}``, never a token.

Pure functions: a payload is built from the portal's non-secret columns and what the caller says changed.
``data`` always holds ``app``, ``hub_id``, ``hub_domain``, ``status``, ``reason`` and ``scopes``; some types
add fields (:data:`EXTRA_FIELDS`). docs/webhooks/<type>.schema.json describes each; a test validates every
delivered body against its schema.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

CREATED = "connection.created"
REAUTHORIZED = "connection.reauthorized"
SCOPES_CHANGED = "connection.scopes_changed"
REFRESH_FAILED = "connection.refresh_failed"
NEEDS_REAUTH = "connection.needs_reauth"
RECOVERED = "connection.recovered"
REVOKED = "connection.revoked"
UNINSTALLED = "connection.uninstalled"
KEY_PROBLEM = "connection.key_problem"
HUBSPOT_DEGRADED = "hubspot.degraded"
HUBSPOT_RECOVERED = "hubspot.recovered"
TEST = "webhook.test"

EVENT_TYPES: tuple[str, ...] = (CREATED, REAUTHORIZED, SCOPES_CHANGED, REFRESH_FAILED, NEEDS_REAUTH, RECOVERED,
                                REVOKED, UNINSTALLED, KEY_PROBLEM, HUBSPOT_DEGRADED, HUBSPOT_RECOVERED, TEST)
"""Every type an endpoint may subscribe to (``webhook.test`` is sent to one endpoint on request)."""

EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    SCOPES_CHANGED: ("added_scopes", "removed_scopes"),
    REFRESH_FAILED: ("error_code", "consecutive_failures"),
    NEEDS_REAUTH: ("error_code", "consecutive_failures"),
    KEY_PROBLEM: ("error_code", "consecutive_failures"),
    HUBSPOT_DEGRADED: ("since",),
    HUBSPOT_RECOVERED: ("since",),
    TEST: ("endpoint_id",),
}
"""The fields a type adds to ``data`` (and its schema requires)."""


class PortalLike(Protocol):
    """The non-secret portal columns a payload reads (a ``Portal`` row qualifies)."""

    app: str
    hub_id: int
    hub_domain: str | None
    status: str
    granted_scopes: str


def new_msg_id() -> str:
    """The ``webhook-id`` of a new event: unique, and the same on every retry of it."""
    return f"msg_{uuid.uuid4().hex}"


def timestamp_text(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def portal_data(portal: PortalLike, *, reason: str, status: str | None = None, scopes: Sequence[str] | None = None,
                extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``data`` of a connection event: the portal as it is after the change (``status`` / ``scopes`` when the
    caller writes new values the row object does not hold yet)."""
    granted = sorted(scopes) if scopes is not None else sorted(portal.granted_scopes.split())
    return {"app": portal.app, "hub_id": portal.hub_id, "hub_domain": portal.hub_domain,
            "status": str(status if status is not None else portal.status), "reason": reason[:500],
            "scopes": granted, **(extra or {})}


def service_data(*, app: str, status: str, reason: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``data`` of an event about no single portal (``hubspot.*``, ``webhook.test``)."""
    return {"app": app, "hub_id": None, "hub_domain": None, "status": status, "reason": reason[:500], "scopes": [],
            **(extra or {})}


def payload_json(event_type: str, at: datetime, data: Mapping[str, Any]) -> str:
    """The body as sent (and signed): compact JSON, keys in a stable order."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    return json.dumps({"type": event_type, "timestamp": timestamp_text(at), "data": dict(data)},
                      separators=(",", ":"), ensure_ascii=False)
