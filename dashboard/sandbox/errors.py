"""The error shapes the sandbox answers with, as HubSpot writes them.

* OAuth endpoints: ``{error, error_description, status, message}`` (V1GUIDE / V3GUIDE / CL-V3), plus
  ``correlationId`` and ``category`` so the body also satisfies the specs' ``Error`` schema, which every
  OAuth operation declares as its ``default`` response.
* API endpoints: ``{status: "error", message, correlationId, category}`` (ERR; the expired-token and
  rate-limit bodies come from the fact sheet §5/§6).
* Install (authorize) failures are shown on HubSpot's own page, never sent to the app:
  :class:`AuthorizeError`.
"""

from __future__ import annotations

import uuid
from typing import Any


def correlation_id() -> str:
    """A fresh UUID, as HubSpot puts in every error body."""
    return str(uuid.uuid4())


class OAuthError(Exception):
    """An RFC 6749-style token-endpoint error with HubSpot's legacy ``status`` code (HTTP 400)."""

    def __init__(
        self, error: str, status: str, description: str, *, http_status: int = 400, category: str | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.status = status
        self.description = description
        self.http_status = http_status
        self.category = category

    def body(self) -> dict[str, Any]:
        """The JSON body HubSpot sends for this error."""
        return {
            "error": self.error,
            "error_description": self.description,
            "status": self.status,
            "message": self.description,
            "correlationId": correlation_id(),
            # HubSpot documents no category for OAuth errors; these keep the body valid against the specs.
            "category": self.category
            or ("INVALID_AUTHENTICATION" if self.error == "invalid_client" else "VALIDATION_ERROR"),
        }


def bad_client() -> OAuthError:
    """Wrong client id or secret (usertour tests: ``invalid_client`` / ``BAD_CLIENT_ID``)."""
    return OAuthError("invalid_client", "BAD_CLIENT_ID", "missing or unknown client id or client secret")


def bad_refresh_token() -> OAuthError:
    """Unknown, rotated, revoked or uninstalled refresh token (V3GUIDE's example body)."""
    return OAuthError("invalid_grant", "BAD_REFRESH_TOKEN", "refresh token is invalid, expired or revoked")


def missing_parameter(name: str, status: str) -> OAuthError:
    """A required form field is absent or empty."""
    return OAuthError("invalid_request", status, f"missing required parameter: {name}")


def api_error(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """An API error body: ``{"status": "error", "message", "correlationId", "category", ...}``."""
    return {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
        **extra,
    }


def rate_limit_body(policy: str = "TEN_SECONDLY_ROLLING") -> dict[str, Any]:
    """HubSpot's 429 body (USAGE); the burst limit's policy is ``TEN_SECONDLY_ROLLING``, the day's ``DAILY``."""
    return {
        "status": "error",
        "message": "You have reached your daily limit." if policy == "DAILY"
        else "You have reached your ten secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": correlation_id(),
    }


class AuthorizeError(Exception):
    """An install failure HubSpot shows on its own page (HTTP 400), never redirecting to the app.

    ``code`` is a short machine name (``bad_client_id``, ``redirect_mismatch``, ``scope_mismatch``,
    ``tier_blocked``, ...), returned by ``POST /_sandbox/consent`` as ``error``.
    """

    def __init__(self, code: str, message: str, *, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
