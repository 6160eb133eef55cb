"""The token API under ``/api/v1``: HTTP around :mod:`dashboard.token_api`, with ``Authorization: Bearer <key>``.

Handlers do blocking database and HubSpot work, so each runs in a worker thread (``run_in_threadpool``);
the event loop keeps serving the pages meanwhile. Every response carries ``Cache-Control: no-store``.
Errors are JSON ``{"error": code, "message": sentence}``: 401 bad key, 403 wrong role, 404 unknown or not
allowed, 409 with the reason a token cannot be handed out, 429 with ``Retry-After``, 503 when the database
or HubSpot is unavailable. A message never holds a token or a key.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard import api_keys, metrics
from dashboard.actors import VIEWER, Actor
from dashboard.api_keys import ApiKeyInfo
from dashboard.context import AppContext
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
)
from dashboard.lifecycle import timeline
from dashboard.models import utcnow
from dashboard.token_api import TokenApi
from dashboard.web.openapi import OPENAPI
from dashboard.web.runtime import shared_context

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
Work = Callable[[TokenApi, ApiKeyInfo, Request], Any]

_lock = threading.Lock()
_api: TokenApi | None = None


def _token_api(ctx: AppContext) -> TokenApi:
    """This process's :class:`TokenApi` (its rate limiter must be shared by every request)."""
    global _api  # one per server process, like the context it wraps
    with _lock:
        if _api is None or _api.ctx is not ctx:
            _api = TokenApi(ctx)
        return _api


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={**NO_STORE, **(headers or {})})


def _as_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiKeyError):
        return _error(401, exc.code, exc.description, {"WWW-Authenticate": 'Bearer realm="dashboard"'})
    if isinstance(exc, ApiRateLimitedError):
        return _error(429, exc.code, exc.description, {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    if isinstance(exc, NotFoundError):
        return _error(404, exc.code, exc.description)
    if isinstance(exc, PermissionDeniedError):
        return _error(403, exc.code, exc.description)
    if isinstance(exc, PortalUnavailableError):
        return _error(409, exc.code, exc.description)
    if isinstance(exc, HubSpotError):
        return _error(503, "hubspot_unavailable", exc.description, {"Retry-After": "5"})
    if isinstance(exc, StorageError | SQLAlchemyError):
        log.error("token API: the database failed (%s)", exc.__class__.__name__)
        return _error(503, "database_unavailable", "the database is unavailable; try again shortly",
                      {"Retry-After": "5"})
    if isinstance(exc, DashboardError):
        return _error(400, exc.code, exc.description)
    raise exc


def _endpoint(name: str, work: Work) -> Callable[[Request], Awaitable[Response]]:
    def blocking(ctx: AppContext, request: Request) -> Response:
        api = _token_api(ctx)
        try:
            key = api_keys.authenticate(ctx, request.headers.get("authorization"))
            api.check_rate(key)
            body = work(api, key, request)
        except (DashboardError, SQLAlchemyError) as exc:
            return _as_response(exc)
        return JSONResponse(body, headers=NO_STORE)

    async def handle(request: Request) -> Response:
        ctx = shared_context()
        if ctx is None:
            response: Response = _error(503, "not_configured", "the dashboard could not start; see its log")
        else:
            response = await run_in_threadpool(blocking, ctx, request)
        metrics.record_api_request(name, response.status_code)
        return response

    return handle


def _portals(api: TokenApi, key: ApiKeyInfo, request: Request) -> Any:
    return {"portals": api.list_portals(key)}


def _token(api: TokenApi, key: ApiKeyInfo, request: Request) -> Any:
    token = api.access_token(key, int(request.path_params["hub_id"]))
    return {"hub_id": token.hub_id, "access_token": token.access_token, "token_type": "bearer",
            "expires_at": token.expires_at.isoformat(),
            "expires_in": max(0, int((token.expires_at - utcnow()).total_seconds()))}


def _refresh(api: TokenApi, key: ApiKeyInfo, request: Request) -> Any:
    outcome = api.force_refresh(key, int(request.path_params["hub_id"]))
    if outcome.result == "busy":
        raise PortalUnavailableError(outcome.message, code="refresh_in_progress")
    return {"hub_id": outcome.hub_id, "result": outcome.result,
            "expires_at": outcome.expires_at.isoformat() if outcome.expires_at else None}


def _timeline(api: TokenApi, key: ApiKeyInfo, request: Request) -> Any:
    """``GET /api/v1/portals/{hub_id}/timeline?since=&limit=&before=&kind=&outcome=``: newest first; page on with
    ``before`` = the previous page's ``next_before``. A plain function of (context, key, hub id, query) so
    the FastAPI app can call :func:`timeline_body` as it is."""
    return timeline_body(api.ctx, key, int(request.path_params["hub_id"]), dict(request.query_params))


def timeline_body(ctx: AppContext, key: ApiKeyInfo, hub_id: int, query: dict[str, str]) -> dict[str, Any]:
    if not key.allows(hub_id):  # the same answer as for an unknown portal: no probing of hub ids
        raise NotFoundError(f"no portal {hub_id} for this API key")

    def number(name: str, default: int | None, high: int) -> int | None:
        text = query.get(name)
        if text is None:
            return default
        if not text.isascii() or not text.isdigit() or len(text) > 19 or not 1 <= int(text) <= high:
            raise InputError(f"{name}: a whole number from 1 to {high}")
        return int(text)

    since = timeline.parse_since(query["since"]) if query.get("since") else None
    limit = number("limit", 50, timeline.MAX_LIMIT) or 50
    entries = timeline.portal_timeline(ctx, hub_id, actor=Actor(key.actor_name, VIEWER), since=since, limit=limit,
                                       before_id=number("before", None, timeline.MAX_HUB_ID),
                                       kinds=tuple(k for k in query.get("kind", "").split(",") if k),
                                       outcomes=tuple(o for o in query.get("outcome", "").split(",") if o))
    return {"hub_id": hub_id, "events": [e.as_json() for e in entries],
            "next_before": entries[-1].id if len(entries) == limit else None}


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/portals", _endpoint("portals", _portals), methods=["GET"]),
        Route("/api/v1/portals/{hub_id:int}/token", _endpoint("token", _token), methods=["GET"]),
        Route("/api/v1/portals/{hub_id:int}/refresh", _endpoint("refresh", _refresh), methods=["POST"]),
        Route("/api/v1/portals/{hub_id:int}/timeline", _endpoint("timeline", _timeline), methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
    ]
