"""The one exception tree of the dashboard.

Every error the core raises on purpose derives from :class:`DashboardError`, so pages and the CLI catch
exactly one type and show ``str(error)``: a sentence a support person understands. Each error carries a
short machine ``code`` and a human ``description``. No message ever contains a token, a client secret or
an encryption key: callers pass descriptions, never raw values.

A service that adds context to an error it passes on uses :meth:`DashboardError.reworded`, which keeps the
class and every field (``status``, ``retry_after``, ``pending_id``, ...); never ``type(exc)(...)``.
The tree below is checked against the classes by ``tests/test_errors.py``.

::

    DashboardError
    ├── ConfigurationError          settings are missing or wrong (exit code 2 in the CLI)
    │   ├── RedirectUriError        a redirect URI breaks HubSpot's rules (https or localhost, no IP)
    │   └── UnknownAppError         an app id (--app, /api/v1/apps/{app}) that names no configured app
    ├── InputError                  bad user input: scope names, hub ids, CLI arguments, callback params
    │   ├── ScopeError              a scope name or scope set is not acceptable
    │   └── UsageError              a CLI command line that does not parse (exit code 2)
    ├── NotFoundError               no such portal / scope set / pending install
    ├── PermissionDeniedError       the actor's role does not allow the action
    ├── CryptoError                 a ciphertext cannot be decrypted or a key is unusable
    │   └── KeyNotFoundError        a row names a key id that is not configured
    ├── StorageError                the database refused or is unreachable
    ├── InstallError                the install callback cannot be completed
    │   ├── StateError              state missing, unknown, expired or already used
    │   ├── AuthorizationDenied     the user or HubSpot refused consent (error= callback)
    │   └── InstallPendingError     tokens granted and kept encrypted, but the install is not finished yet
    ├── LockBusyError               another process holds the portal's refresh lease
    ├── ApiKeyError                 a token API key is missing, unknown, revoked or expired (HTTP 401)
    ├── ApiRateLimitedError         a token API key went past its rate (HTTP 429, ``retry_after``)
    ├── PortalUnavailableError      no token can be handed out: ``code`` says why (HTTP 409)
    │   └── PortalRevokedError      the connection was revoked or uninstalled; only a new install helps
    ├── OutboundError               an alert webhook or the sandbox probe got no usable answer
    └── HubSpotError                HubSpot (or the sandbox) answered with an error
        ├── InvalidGrantError       invalid_grant: code or refresh token is dead; needs re-consent
        │   └── RedirectUriMismatchError  the code exchange's redirect_uri is not the authorize request's
        ├── InvalidClientError      invalid_client: client id/secret wrong (a configuration problem)
        ├── ApiAuthError            401/403 from an API call (expired token, missing scopes)
        ├── ProtocolError           a response we cannot parse (malformed JSON, missing fields)
        └── TransientError          worth retrying: 429, 5xx, timeouts, connection failures
            ├── RateLimitedError    429, with ``retry_after`` seconds when HubSpot sent it
            └── RefreshOutcomeUnknown  a token call HubSpot may have used (timed out after it was sent):
                                    transient, but never sent again with the same token in the same call
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self


class DashboardError(Exception):
    """Base of every error the dashboard raises on purpose.

    ``code`` is a short identifier (``invalid_grant``, ``state_expired``, ...); ``description`` is the
    human sentence. ``str(error)`` is the description.
    """

    code: str = "dashboard_error"

    def __init__(self, description: str, *, code: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.description

    def reworded(self, description: str) -> Self:
        """The same error (class, ``code`` and every field) with a new sentence, to raise ``from`` this one."""
        # Not copy.copy: that calls the class with args only and fails on keyword-only fields (pending_id).
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.args = (description,)
        clone.description = description
        return clone


class ConfigurationError(DashboardError):
    code = "configuration"


class UnknownAppError(ConfigurationError):
    code = "unknown_app"


class InputError(DashboardError):
    code = "invalid_input"


class RedirectUriError(ConfigurationError):
    code = "invalid_redirect_uri"


class ScopeError(InputError):
    code = "invalid_scope"


class UsageError(InputError):
    code = "usage"


class NotFoundError(DashboardError):
    code = "not_found"


class PermissionDeniedError(DashboardError):
    code = "permission_denied"


class CryptoError(DashboardError):
    code = "crypto"


class KeyNotFoundError(CryptoError):
    code = "key_not_found"


class StorageError(DashboardError):
    code = "storage"


class InstallError(DashboardError):
    code = "install_failed"


class StateError(InstallError):
    code = "state_invalid"


class AuthorizationDenied(InstallError):
    code = "access_denied"


class InstallPendingError(InstallError):
    """HubSpot granted tokens but the install could not be finished; ``pending_id`` names the kept record."""

    code = "install_pending"

    def __init__(self, description: str, *, pending_id: int) -> None:
        super().__init__(description)
        self.pending_id = pending_id


class LockBusyError(DashboardError):
    code = "lock_busy"


@dataclass(frozen=True)
class HubSpotAnswer:
    """What HubSpot answered to a failed call, as the timeline keeps it (dashboard/lifecycle/answers.py
    builds it): HTTP status, HubSpot's ``status``, ``category``, ``message`` and ``correlationId``, and
    ``body`` when it was not the JSON error object (redacted, control characters escaped, capped at 2 KB)."""

    http_status: int | None = None
    status: str | None = None
    category: str | None = None
    message: str | None = None
    correlation_id: str | None = None
    body: str | None = None


class HubSpotError(DashboardError):
    """HubSpot answered with an error. ``status`` is the HTTP status when there was a response.

    ``answer`` keeps HubSpot's fields; ``attempt`` is the in-call attempt that raised it (1 when not retried).
    """

    code = "hubspot_error"
    answer: HubSpotAnswer = HubSpotAnswer()
    attempt: int = 1

    def __init__(
        self, description: str, *, code: str | None = None, status: int | None = None,
        hubspot_status: str | None = None,
    ) -> None:
        super().__init__(description, code=code)
        self.status = status
        self.hubspot_status = hubspot_status


class InvalidGrantError(HubSpotError):
    code = "invalid_grant"


class RedirectUriMismatchError(InvalidGrantError):
    """A configuration problem, not a dead code: the redirect URIs of authorize and exchange differ."""

    code = "redirect_uri_mismatch"


class InvalidClientError(HubSpotError):
    code = "invalid_client"


class ApiAuthError(HubSpotError):
    code = "api_auth"


class ProtocolError(HubSpotError):
    code = "protocol"


class TransientError(HubSpotError):
    code = "transient"


class RateLimitedError(TransientError):
    code = "rate_limited"

    def __init__(
        self, description: str, *, retry_after: float | None = None, status: int | None = 429,
        hubspot_status: str | None = None,
    ) -> None:
        super().__init__(description, status=status, hubspot_status=hubspot_status)
        self.retry_after = retry_after


class RefreshOutcomeUnknown(TransientError):
    """A refresh (or code exchange) whose answer never came back: HubSpot may have used the token and, with
    rotation, issued a new one. Transient (the next attempt is the normal backoff), never retried at once."""

    code = "outcome_unknown"


class ApiKeyError(DashboardError):
    code = "invalid_api_key"


class ApiRateLimitedError(DashboardError):
    code = "rate_limited"

    def __init__(self, description: str, *, retry_after: float) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class PortalUnavailableError(DashboardError):
    """``code`` is the machine-readable reason: ``needs_reauth``, ``revoked``, ``key_missing``, ``undecryptable``."""

    code = "unavailable"


class PortalRevokedError(PortalUnavailableError):
    code = "revoked"


class OutboundError(DashboardError):
    """A POST to an alert webhook or the sandbox probe failed; the description never holds the URL (it may
    carry a secret, such as a Slack webhook's path)."""

    code = "outbound"
