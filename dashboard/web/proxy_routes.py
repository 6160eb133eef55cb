"""The HubSpot API proxy and its usage under ``/api/v1``, as a FastAPI ``APIRouter``.

``/api/v1/portals/{hub_id}/proxy/{path}`` (any method) forwards to HubSpot's API host through
:meth:`dashboard.proxy.service.ProxyService.call_async`, on the server's event loop (no worker thread per
call: the key from the API's 2 s key cache, the portal's token from the proxy's 2 s token cache, HubSpot
over the loop's ``httpx.AsyncClient``). ``/api/v1/portals/{hub_id}/usage`` sums its per-minute counts.
Both serve the default app (DASHBOARD_APP_ID); ``/api/v1/apps/{app}/portals/{hub_id}/proxy/{path}`` and
``.../usage`` serve one configured app: its tokens, its HubSpot host, its portal windows and usage rows
(:meth:`ProxyBackend.for_app`).

Both take the API's key dependency (:func:`dashboard.web.api.deps.key_dependency`: ``Authorization: Bearer
<API key>``, the key's rate) and raise our errors, which the API's handlers answer in its one JSON shape
(:mod:`dashboard.web.api.errors`). The one thing kept apart is HubSpot's own answer: its status, body and
rate-limit headers go back as they came, whatever they are (a HubSpot 404 or 429 is not one of our errors
and must not be rewritten into our shape). The path is read from the raw request target
(``scope["raw_path"]``), still encoded, so that ``%2F`` is refused instead of becoming a slash.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dashboard.admin.api_keys import ApiKeyInfo, check_portal
from dashboard.context import AppContext
from dashboard.errors import DashboardError, InputError
from dashboard.proxy import paths, usage
from dashboard.proxy.service import ProxyService
from dashboard.proxy.tokens import PortalTokens
from dashboard.tokens.service import TokenApi
from dashboard.web.api import deps
from dashboard.web.api.errors import NO_STORE, NotConfiguredError, install_handlers
from dashboard.web.api.schemas import ErrorBody, HubId, UsageSummary
from dashboard.web.runtime import shared_context

log = logging.getLogger(__name__)
PREFIX = "/api/v1"  # the router's paths are relative to it: build_api includes it there
_ERR = {"model": ErrorBody}
PROXY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "HubSpot's answer as it came (any status HubSpot sent: its body, Content-Type and "
                         "X-HubSpot-RateLimit-* headers; Retry-After on its 429)"},
    400: {**_ERR, "description": "bad_path: the path leaves HubSpot's API host or is malformed; nothing sent"},
    403: {**_ERR, "description": "read_only_key: a read-only key sent another method than GET or HEAD; "
                                 "permission_denied: a key restricted to another app"},
    409: {**_ERR, "description": "the portal has no usable token: needs_reauth, revoked, key_missing"},
    413: {**_ERR, "description": "body_too_large: over DASHBOARD_PROXY_MAX_BODY_BYTES; nothing sent"},
    429: {**_ERR, "description": "over the key's rate or the portal's HubSpot window (rate_limited); see "
                                 "Retry-After; nothing sent"},
    502: {**_ERR, "description": "hubspot_unreachable: no connection to HubSpot"},
    504: {**_ERR, "description": "hubspot_timeout: HubSpot did not answer in DASHBOARD_PROXY_TIMEOUT_SECONDS"},
}
APP_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {**_ERR, "description": "a key restricted to another app"},
    404: {**_ERR, "description": "no such app, or no such portal for this key"}}
APP_PROXY_RESPONSES = {**PROXY_RESPONSES, 404: APP_RESPONSES[404]}


class ProxyBackend:
    """What the routes need in one server process for one app: the token API (keys, key limits, tokens) and
    the proxy (its portal windows, usage counts and HubSpot host are that app's).

    The default app's backend holds the other apps' (:meth:`for_app`), made on first use and closed with it.
    ``api_of``: the token API of another app (the server's :func:`dashboard.web.api.deps.app_api`, shared with
    the token routes); without it each app's backend makes its own."""

    def __init__(self, ctx: AppContext, api: TokenApi | None = None, *,
                 api_of: Callable[[str], TokenApi] | None = None) -> None:
        self.ctx = ctx
        self.api = api or TokenApi(ctx)
        api = self.api
        self.tokens = PortalTokens(lambda key, hub_id: api.access_token_async(key, hub_id, action=""),
                                   lambda key, hub_id: api.access_token(key, hub_id, action=""), app=ctx.app_id)
        self.proxy = ProxyService(ctx, self.tokens.get_blocking, portal_tokens=self.tokens)
        self._api_of = api_of
        self._apps: dict[str, ProxyBackend] = {}
        self._apps_lock = threading.Lock()

    def for_app(self, app: str) -> ProxyBackend:
        """The backend of configured app ``app`` (this one for its own app); an unknown app:
        :class:`~dashboard.errors.UnknownAppError` (404)."""
        app_ctx = self.ctx.for_app(app)
        if app_ctx is self.ctx:
            return self
        with self._apps_lock:
            found = self._apps.get(app_ctx.app_id)
            if found is None:
                api = self._api_of(app_ctx.app_id) if self._api_of is not None else TokenApi(app_ctx)
                found = self._apps[app_ctx.app_id] = ProxyBackend(app_ctx, api)
        return found

    def close(self) -> None:
        with self._apps_lock:
            others, self._apps = list(self._apps.values()), {}
        for other in others:
            other.close()
        self.proxy.close()


_lock = threading.Lock()
_backend: ProxyBackend | None = None


def shared_backend() -> ProxyBackend | None:
    """This process's backend over the server's shared context and token API (None when the context could
    not start)."""
    global _backend  # one per server process, like the context it wraps
    ctx = shared_context()
    if ctx is None:
        return None
    if _backend is None or _backend.ctx is not ctx:
        with _lock:
            if _backend is None or _backend.ctx is not ctx:
                # One key cache and key limiter per process; each app's token API shared with the token routes.
                _backend = ProxyBackend(ctx, deps.current_api(), api_of=deps.app_api)
    return _backend


def close_shared_backend() -> None:
    """Flush and close this process's backends (the server's lifespan, before the context closes)."""
    global _backend
    with _lock:
        backend, _backend = _backend, None
    if backend is None:
        return
    try:
        backend.close()
    except DashboardError as exc:  # the database away at shutdown: those counts are lost, the server still stops
        log.warning("proxy: the last usage counts were not saved (%s)", exc.code)


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
    """The proxy and usage routes: ``/portals/{hub_id}/...`` for the default app, ``/apps/{app}/portals/
    {hub_id}/...`` for any configured one; each pair shares one handler body over that app's backend."""
    router = APIRouter(tags=["proxy"])

    def backend(app: str | None = None) -> ProxyBackend:
        be = backend_of()
        if be is None:
            raise NotConfiguredError("the dashboard could not start; see its log")
        return be if app is None else be.for_app(app)

    # The API's key dependency over the default backend's token API (the shared one in a server process): one
    # key cache and one rate per key, whichever app it calls, as the token routes. A default value rather
    # than an ``Annotated`` type: string annotations cannot name a local (``from __future__``).
    checked_key: Any = Depends(deps.key_dependency(lambda: backend().api))
    methods = list(paths.ALLOWED_METHODS)

    @router.api_route("/portals/{hub_id}/proxy/{path:path}", methods=methods, name="proxy",
                      openapi_extra=deps.SECURED, responses=PROXY_RESPONSES,
                      summary="Call HubSpot's API for a portal with its fresh token")
    async def proxy(hub_id: HubId, path: str, request: Request, key: ApiKeyInfo = checked_key) -> Response:
        return await _proxy(backend(), hub_id, request, key)

    @router.api_route("/apps/{app}/portals/{hub_id}/proxy/{path:path}", methods=methods, name="app_proxy",
                      openapi_extra=deps.SECURED, responses=APP_PROXY_RESPONSES,
                      summary="Call HubSpot's API for one app's portal with that app's token, at that app's host")
    async def app_proxy(app: str, hub_id: HubId, path: str, request: Request,
                        key: ApiKeyInfo = checked_key) -> Response:
        return await _proxy(backend(app), hub_id, request, key)

    @router.get("/portals/{hub_id}/usage", response_model=UsageSummary, openapi_extra=deps.SECURED,
                summary="The portal's proxied calls over the last hours")
    async def portal_usage(hub_id: HubId, hours: Annotated[int, Query(ge=1, le=720)] = 24,
                           key: ApiKeyInfo = checked_key) -> JSONResponse:
        return await _usage(backend(), hub_id, hours, key)

    @router.get("/apps/{app}/portals/{hub_id}/usage", name="app_portal_usage", response_model=UsageSummary,
                openapi_extra=deps.SECURED, responses=APP_RESPONSES,
                summary="One app's portal's proxied calls over the last hours")
    async def app_portal_usage(app: str, hub_id: HubId, hours: Annotated[int, Query(ge=1, le=720)] = 24,
                               key: ApiKeyInfo = checked_key) -> JSONResponse:
        return await _usage(backend(app), hub_id, hours, key)

    return router


async def _proxy(be: ProxyBackend, hub_id: int, request: Request, key: ApiKeyInfo) -> Response:
    body = await _body(request, be.ctx.settings.dashboard_proxy_max_body_bytes)
    raw_tail = _raw_tail(request, str(request.path_params.get("hub_id", hub_id)))
    query = request.scope.get("query_string", b"").decode("latin-1")
    answer = await be.proxy.call_async(key, hub_id, request.method, raw_tail, query=query,
                                       headers=request.headers.items(), body=body)
    # HubSpot's answer, passed through as it came (never rewritten into our error shape).
    return Response(answer.body if request.method != "HEAD" else b"", status_code=answer.status,
                    headers={**answer.headers, **NO_STORE})


async def _usage(be: ProxyBackend, hub_id: int, hours: int, key: ApiKeyInfo) -> JSONResponse:
    check_portal(key, hub_id, app=be.ctx.app_id)

    def read() -> dict[str, Any]:
        be.proxy.usage.flush()
        return usage.usage_summary(be.ctx, hub_id, hours=hours)

    return JSONResponse(await run_in_threadpool(read), headers=NO_STORE)


def build_app(backend_of: Callable[[], ProxyBackend | None] = shared_backend) -> FastAPI:
    """A FastAPI app holding only the proxy's router, with the API's error handlers (tests, the bench)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False})
    app.include_router(build_router(backend_of), prefix=PREFIX)
    install_handlers(app)
    return app
