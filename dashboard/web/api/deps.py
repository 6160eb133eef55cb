"""FastAPI dependencies shared by every ``/api/v1`` router: the process's token API and the caller's key.

Other routers (the HubSpot proxy, health timelines) use these too: a ``key: ApiKey`` parameter authenticates
the caller and applies its rate limit; ``api: Api`` is this process's :class:`TokenApi`.

One dependency per request, ``async def``, reading the header itself: FastAPI runs a plain ``def``
dependency in a worker thread (a hop per request), and each extra dependency (``HTTPBearer`` and friends)
costs more per request than the token read (docs/proofs.md, the token API's profile). The bearer scheme is
declared in the OpenAPI document by :data:`SECURED` instead.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from dashboard.api_keys import ApiKeyInfo
from dashboard.context import AppContext
from dashboard.token_api import TokenApi
from dashboard.web.api.errors import NotConfiguredError
from dashboard.web.runtime import shared_context

SECURITY_SCHEMES: dict[str, Any] = {"apiKey": {"type": "http", "scheme": "bearer",
                                               "description": "Authorization: Bearer hsd_<prefix>_<secret>"}}
SECURED: dict[str, Any] = {"security": [{"apiKey": []}]}  # ``openapi_extra`` of every route that takes ApiKey

_lock = threading.Lock()
_api: TokenApi | None = None
_pending: dict[str, asyncio.Future[ApiKeyInfo]] = {}  # one database check per header at a time (event loop)


def current_api() -> TokenApi:
    """This process's :class:`TokenApi` (its rate limiter, key cache and reader thread are shared)."""
    global _api  # one per server process, like the context it wraps
    ctx: AppContext | None = shared_context()
    if ctx is None:
        raise NotConfiguredError("the dashboard could not start; see its log")
    if _api is None or _api.ctx is not ctx:
        with _lock:
            if _api is None or _api.ctx is not ctx:
                _api = TokenApi(ctx)
    return _api


_app_apis: dict[str, TokenApi] = {}


def app_api(app: str) -> TokenApi:
    """The :class:`TokenApi` of a configured app (``/api/v1/apps/{app}/...``); the default app's is
    :func:`current_api`. An unknown app: :class:`~dashboard.errors.UnknownAppError` (404)."""
    default = current_api()
    ctx = default.ctx.for_app(app)
    if ctx is default.ctx:
        return default
    with _lock:
        found = _app_apis.get(app)
        if found is None or found.ctx is not ctx:
            found = _app_apis[app] = TokenApi(ctx)
    return found


async def token_api() -> TokenApi:
    return current_api()


async def api_key(request: Request) -> ApiKeyInfo:
    """The caller's key (401 otherwise), within its rate (429 otherwise)."""
    api = current_api()
    header = request.headers.get("authorization")
    key = api.cached_key(header)
    if key is None:
        key = await _authenticate(api, header or "")
    api.check_rate(key)
    return key


async def _authenticate(api: TokenApi, header: str) -> ApiKeyInfo:
    """The database check, shared by the requests that arrive with the same header while it runs."""
    pending = _pending.get(header)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[ApiKeyInfo] = asyncio.get_running_loop().create_future()
    _pending[header] = future
    try:
        key = await run_in_threadpool(api.authenticate, header or None)
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
        raise
    else:
        future.set_result(key)
        return key
    finally:
        _pending.pop(header, None)


ApiKey = Annotated[ApiKeyInfo, Depends(api_key)]
Api = Annotated[TokenApi, Depends(token_api)]
