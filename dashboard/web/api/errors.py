"""The API's one error shape (:class:`ErrorBody`) for every failure: ours, FastAPI's, and the unexpected.

Our exceptions map to a status here, once: 401 bad key (with ``WWW-Authenticate``), 403 wrong role, 404
unknown or not allowed, 409 no token can be handed out, 413 a body over the proxy's cap, 429 with
``Retry-After``, 503 when the database, the rate-limit store or HubSpot is unavailable (with ``Retry-After``),
400 for bad input (a hub id out of range included). The HubSpot proxy's own call to HubSpot adds 502 (HubSpot
unreachable) and 504 (HubSpot too slow); HubSpot's answers themselves are not errors of ours and pass
through the proxy as they came (dashboard/web/proxy_routes.py). FastAPI's
own 404 / 405 (with ``Allow``) / 422 become the same shape (422 is answered as 400 ``invalid_request``), and
anything unexpected a 500 ``internal_error`` that names no detail. Every answer is ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from dashboard.errors import (
    ApiKeyError,
    ApiRateLimitedError,
    DashboardError,
    HubSpotError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    PortalUnavailableError,
    StorageError,
    UnknownAppError,
)
from dashboard.hubspot.hub_ids import MAX_HUB_ID
from dashboard.web.api.schemas import ErrorBody

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_ERR = {"model": ErrorBody}

# Documented on every operation (FastAPI adds them to the generated document).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERR, "description": "bad input: a hub id outside 1..2^63-1, not a number, or a malformed request"},
    401: {**_ERR, "description": "missing, unknown, revoked or expired API key"},
    404: {**_ERR, "description": "unknown portal, not allowed for this key, or no such path"},
    405: {**_ERR, "description": "method not allowed; see Allow"},
    429: {**_ERR, "description": "over the key's rate; see Retry-After"},
    500: {**_ERR, "description": "an unexpected failure (counted in /metrics)"},
    503: {**_ERR, "description": "database or HubSpot unavailable; see Retry-After"},
}


class NotConfiguredError(DashboardError):
    """The server's lifespan could not build its context (a configuration problem, logged at start)."""

    code = "not_configured"


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={**NO_STORE, **(headers or {})})


def as_response(exc: DashboardError | SQLAlchemyError) -> JSONResponse:
    """The HTTP answer for one of our exceptions (or the database's, untranslated)."""
    if isinstance(exc, ApiKeyError):
        return error_response(401, exc.code, exc.description, {"WWW-Authenticate": 'Bearer realm="dashboard"'})
    if isinstance(exc, ApiRateLimitedError):
        return error_response(429, exc.code, exc.description,
                              {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    if isinstance(exc, NotFoundError | UnknownAppError):
        return error_response(404, exc.code, exc.description)
    if isinstance(exc, PermissionDeniedError):
        return error_response(403, exc.code, exc.description)
    if isinstance(exc, PortalUnavailableError):
        return error_response(409, exc.code, exc.description)
    if isinstance(exc, HubSpotError):
        if exc.code == "hubspot_timeout":  # the proxy's call, sent and not answered in time
            return error_response(504, exc.code, exc.description)
        if exc.code == "hubspot_unreachable":  # the proxy's call, no connection
            return error_response(502, exc.code, exc.description, {"Retry-After": "5"})
        return error_response(503, "hubspot_unavailable", exc.description, {"Retry-After": "5"})
    if isinstance(exc, NotConfiguredError):
        return error_response(503, exc.code, exc.description, {"Retry-After": "5"})
    if isinstance(exc, StorageError | SQLAlchemyError):
        log.error("API: the database or the rate-limit store failed (%s)", exc.__class__.__name__)
        return error_response(503, "database_unavailable", "the database or the rate-limit store is unavailable; "
                              "try again shortly", {"Retry-After": "5"})
    if isinstance(exc, InputError) and exc.code == "body_too_large":
        return error_response(413, exc.code, exc.description)
    return error_response(400, exc.code, exc.description)


async def _ours(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DashboardError | SQLAlchemyError)
    return as_response(exc)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(404, "not_found", f"no API route {request.url.path[:100]!r}")
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return error_response(405, "method_not_allowed", f"{request.method} is not allowed here; use {allow}",
                              {"Allow": allow})
    code = "invalid_request" if exc.status_code < 500 else "internal_error"
    return error_response(exc.status_code, code, str(exc.detail)[:200], dict(exc.headers or {}))


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    where = [".".join(str(p) for p in e.get("loc", ())) for e in errors][:3]
    for error in errors:
        if tuple(error.get("loc", ()))[-1:] == ("hub_id",):
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            return error_response(400, "invalid_hub_id",
                                  message[:200] or f"the hub id must be a positive whole number up to {MAX_HUB_ID}")
    return error_response(400, "invalid_request", f"the request is malformed ({', '.join(where) or 'body'})")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("token API: unexpected %s on %s", exc.__class__.__name__, request.url.path[:100])
    return error_response(500, "internal_error", "an unexpected error; see the server's log")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DashboardError, _ours)
    app.add_exception_handler(SQLAlchemyError, _ours)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _unexpected)
