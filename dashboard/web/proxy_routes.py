"""The HubSpot API proxy and its usage under ``/api/v1``, as a FastAPI ``APIRouter``.

``/api/v1/portals/{hub_id}/proxy/{path}`` (any method) forwards to HubSpot's API host through
:class:`dashboard.proxy.service.ProxyService`; ``/api/v1/portals/{hub_id}/usage`` sums its per-minute
counts. Both take ``Authorization: Bearer <API key>`` (:func:`dashboard.api_keys.authenticate`) and the
key's rate (:class:`dashboard.token_api.TokenApi`'s limiter). Our own errors are
``{"error": code, "message": sentence}``; HubSpot's answers pass through with its status, body and
rate-limit headers. The path is read from the raw request target (``scope["raw_path"]``), still encoded,
so that ``%2F`` is refused instead of becoming a slash. Blocking work runs in a worker thread.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from dashboard import api_keys
from dashboard.api_keys import ApiKeyInfo, check_portal
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
from dashboard.proxy import usage
from dashboard.proxy.service import ProxyService
from dashboard.token_api import TokenApi
from dashboard.web.runtime import shared_context

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PROXY_PATH = "/api/v1/portals/{hub_id}/proxy/{path:path}"
USAGE_PATH = "/api/v1/portals/{hub_id}/usage"
PREFIX = "/api/v1"  # the router's paths are relative to it: build_api includes it there


class ProxyBackend:
    """What the routes need in one server process: the token API's core (tokens, key limits) and the proxy."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.api = TokenApi(ctx)
        self.proxy = ProxyService(ctx, lambda key, hub_id: self.api.access_token(key, hub_id).access_token)

    def close(self) -> None:
        self.proxy.close()


_lock = threading.Lock()
_backend: ProxyBackend | None = None


def shared_backend() -> ProxyBackend | None:
    """This process's backend over the server's shared context (None when the context could not start)."""
    global _backend  # one per server process, like the context it wraps
    ctx = shared_context()
    if ctx is None:
        return None
    with _lock:
        if _backend is None or _backend.ctx is not ctx:
            _backend = ProxyBackend(ctx)
        return _backend


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={**NO_STORE, **(headers or {})})


def as_response(exc: Exception) -> JSONResponse:
    """Our errors as JSON: 400 bad input, 401 key, 403 role, 404 portal, 409 portal state, 413 body,
    429 limits, 502/504 HubSpot unreachable / too slow, 503 database."""
    if isinstance(exc, ApiKeyError):
        return error(401, exc.code, exc.description, {"WWW-Authenticate": 'Bearer realm="dashboard"'})
    if isinstance(exc, ApiRateLimitedError):
        return error(429, exc.code, exc.description, {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    if isinstance(exc, NotFoundError):
        return error(404, exc.code, exc.description)
    if isinstance(exc, PermissionDeniedError):
        return error(403, exc.code, exc.description)
    if isinstance(exc, PortalUnavailableError):
        return error(409, exc.code, exc.description)
    if isinstance(exc, HubSpotError):
        if exc.code == "hubspot_timeout":
            return error(504, exc.code, exc.description)
        return error(502 if exc.code == "hubspot_unreachable" else 503, exc.code, exc.description,
                     {"Retry-After": "5"})
    if isinstance(exc, StorageError | SQLAlchemyError):
        log.error("proxy: the database or rate-limit store failed (%s)", exc.__class__.__name__)
        return error(503, "storage_unavailable", "the database or the rate-limit store is unavailable; "
                     "try again shortly", {"Retry-After": "5"})
    if isinstance(exc, InputError) and exc.code == "body_too_large":
        return error(413, exc.code, exc.description)
    if isinstance(exc, DashboardError):
        return error(400, exc.code, exc.description)
    raise exc


def _authorized(backend: ProxyBackend, authorization: str | None) -> ApiKeyInfo:
    key = api_keys.authenticate(backend.ctx, authorization)
    backend.api.check_rate(key)
    return key


async def _body(request: Request, cap: int) -> bytes:
    """The request body, refused (413) past ``cap`` bytes before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise InputError(f"the request body is over the proxy's limit of {cap} bytes", code="body_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise InputError(f"the request body is over the proxy's limit of {cap} bytes", code="body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _raw_tail(request: Request, hub_id: str) -> str:
    """What follows ``/proxy`` in the request target, still percent-encoded."""
    raw = request.scope.get("raw_path")
    target = raw.decode("latin-1") if isinstance(raw, bytes) else quote(request.url.path, safe="/:@!$&'()*+,;=")
    marker = f"/portals/{hub_id}/proxy"
    index = target.find(marker)
    return target[index + len(marker):] if index >= 0 else ""


def build_router(backend_of: Callable[[], ProxyBackend | None] = shared_backend) -> APIRouter:
    router = APIRouter()

    @router.api_route(PROXY_PATH.removeprefix(PREFIX), methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                      summary="Call HubSpot's API for a portal with its fresh token")
    async def proxy(hub_id: int, path: str, request: Request) -> Response:
        be = backend_of()
        if be is None:
            return error(503, "not_configured", "the dashboard could not start; see its log")
        try:
            body = await _body(request, be.ctx.settings.dashboard_proxy_max_body_bytes)
        except DashboardError as exc:
            return as_response(exc)
        raw_tail = _raw_tail(request, str(request.path_params.get("hub_id", hub_id)))
        query = request.scope.get("query_string", b"").decode("latin-1")

        def blocking() -> Response:
            try:
                key = _authorized(be, request.headers.get("authorization"))
                answer = be.proxy.call(key, hub_id, request.method, raw_tail, query=query,
                                       headers=request.headers.items(), body=body)
            except (DashboardError, SQLAlchemyError) as exc:
                return as_response(exc)
            return Response(answer.body if request.method != "HEAD" else b"", status_code=answer.status,
                            headers={**answer.headers, **NO_STORE})

        return await run_in_threadpool(blocking)

    @router.get(USAGE_PATH.removeprefix(PREFIX), summary="The portal's proxied calls over the last hours")
    async def portal_usage(hub_id: int, request: Request, hours: Annotated[int, Query(ge=1, le=720)] = 24
                           ) -> Response:
        be = backend_of()
        if be is None:
            return error(503, "not_configured", "the dashboard could not start; see its log")

        def blocking() -> Response:
            try:
                key = _authorized(be, request.headers.get("authorization"))
                check_portal(key, hub_id, app=be.ctx.app_id)
                be.proxy.usage.flush()
                body: dict[str, Any] = usage.usage_summary(be.ctx, hub_id, hours=hours)
            except (DashboardError, SQLAlchemyError) as exc:
                return as_response(exc)
            return JSONResponse(body, headers=NO_STORE)

        return await run_in_threadpool(blocking)

    return router


def build_app(backend_of: Callable[[], ProxyBackend | None] = shared_backend) -> FastAPI:
    """A FastAPI app holding only the proxy's router (until it joins the /api/v1 app)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(build_router(backend_of), prefix=PREFIX)
    return app
