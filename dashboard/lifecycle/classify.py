"""Failures classified from HubSpot's answer (or our own), and what each class means for the portal.

- *transient*: timeouts, network errors, 429, 5xx, malformed bodies, an unknown 4xx: retried with backoff;
  many at once across portals is a HubSpot outage (dashboard/lifecycle/breaker.py).
- *terminal* for the portal: ``invalid_grant`` (``BAD_REFRESH_TOKEN``, ``BAD_HUB``, ...): needs re-auth.
- *configuration* for the whole app: ``invalid_client`` / ``BAD_CLIENT_ID``, a redirect URI mismatch, a 401
  or 403 from the token endpoint: one app-wide banner saying what to fix; no portal changes state.
- *key*: the row's encryption key is missing or does not open it: not HubSpot's; checked once per key id.
"""

from __future__ import annotations

from enum import StrEnum

from dashboard.errors import (
    ApiAuthError,
    CryptoError,
    DashboardError,
    HubSpotAnswer,
    HubSpotError,
    InvalidClientError,
    InvalidGrantError,
    RedirectUriMismatchError,
)
from dashboard.lifecycle.machine import HealthEvent


class FailureClass(StrEnum):
    TRANSIENT = "transient"
    TERMINAL = "terminal"
    CONFIGURATION = "configuration"
    KEY = "key"


EVENTS = {FailureClass.TRANSIENT: HealthEvent.TRANSIENT, FailureClass.TERMINAL: HealthEvent.TERMINAL,
          FailureClass.CONFIGURATION: HealthEvent.CONFIGURATION, FailureClass.KEY: HealthEvent.KEY}


def classify(exc: DashboardError) -> FailureClass:
    if isinstance(exc, CryptoError):
        return FailureClass.KEY
    if isinstance(exc, RedirectUriMismatchError | InvalidClientError | ApiAuthError):
        return FailureClass.CONFIGURATION
    if isinstance(exc, InvalidGrantError):
        return FailureClass.TERMINAL
    return FailureClass.TRANSIENT  # TransientError, ProtocolError, another 4xx, "outcome unknown", ...


def configuration_advice(exc: DashboardError) -> str:
    """What to fix, for the app-wide banner."""
    if isinstance(exc, RedirectUriMismatchError):
        return ("HubSpot says the redirect URI does not match the app's: set HUBSPOT_REDIRECT_URI to a redirect "
                "URL listed in the app's Auth settings in HubSpot.")
    if isinstance(exc, InvalidClientError):
        return ("HubSpot rejects the app's client id or secret: check HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET "
                "against the app's Auth settings in HubSpot.")
    return ("HubSpot refuses the app's token requests (HTTP 401/403): check HUBSPOT_CLIENT_ID, "
            "HUBSPOT_CLIENT_SECRET and the app's status in HubSpot.")


def answer_of(exc: DashboardError) -> HubSpotAnswer:
    """HubSpot's kept answer (an empty one for failures that never reached HubSpot)."""
    return exc.answer if isinstance(exc, HubSpotError) else HubSpotAnswer()


def answer_fields(exc: DashboardError, *, duration_ms: int | None) -> dict[str, object]:
    """The timeline's columns for a failed call (``repository.insert_audit_event(fields=...)``)."""
    answer = answer_of(exc)
    return {"http_status": answer.http_status, "hubspot_status": answer.status,
            "hubspot_category": answer.category, "correlation_id": answer.correlation_id,
            "answer": answer.message or answer.body, "duration_ms": duration_ms,
            "attempt": exc.attempt if isinstance(exc, HubSpotError) else None}


def describe(answer: HubSpotAnswer) -> str:
    """HubSpot's answer in one line (already safe text; escape where shown)."""
    parts = [f"HTTP {answer.http_status}" if answer.http_status else "no HTTP answer"]
    parts += [p for p in (answer.status, answer.category) if p]
    if answer.message:
        parts.append(answer.message[:200])
    return ", ".join(parts)
