"""FastAPI dependencies shared by every ``/api/v1`` router: the process's token API and the caller's key.

Other routers (the HubSpot proxy, health timelines) use these too: a ``key: ApiKey`` parameter authenticates
the caller and applies its rate limit; ``api: Api`` is this process's :class:`TokenApi`. A router whose
backend is handed to it (the proxy's ``build_router(backend_of)``: tests run two replicas in one process)
builds the same dependency over its own token API with :func:`key_dependency`.

One dependency per request, ``async def``, reading the header itself: FastAPI runs a plain ``def``
dependency in a worker thread (a hop per request), and each extra dependency (``HTTPBearer`` and friends)
costs more per request than the token read (docs/proofs.md, the token API's profile). The bearer scheme is
declared in the OpenAPI document by :data:`SECURED` instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from dashboard.admin.api_keys import ApiKeyInfo
from dashboard.context import AppContext
from dashboard.tokens.service import TokenApi
from dashboard.web.api.errors import NotConfiguredError
from dashboard.web.runtime import shared_context

SECURITY_SCHEMES: dict[str, Any] = {"apiKey": {"type": "http", "scheme": "bearer",
                                               "description": "Authorization: Bearer hsd_<prefix>_<secret>"}}
SECURED: dict[str, Any] = {"security": [{"apiKey": []}]}  # ``openapi_extra`` of every route that takes ApiKey

_lock = threading.Lock()
_api: TokenApi | None = None
# One database check per token API and header at a time (on the event loop).
_pending: dict[tuple[int, str], asyncio.Future[ApiKeyInfo]] = {}


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


def key_dependency(api_of: Callable[[], TokenApi]) -> Callable[[Request], Awaitable[ApiKeyInfo]]:
    """The ``async`` dependency that authenticates the caller against ``api_of()`` (401 otherwise) and
    applies its rate (429 otherwise)."""

    async def api_key(request: Request) -> ApiKeyInfo:
        return await authorize(api_of(), request.headers.get("authorization"))

    return api_key


async def authorize(api: TokenApi, header: str | None) -> ApiKeyInfo:
    """The caller's key from its ``Authorization`` header (401 otherwise), its rate applied (429 otherwise)."""
    key = api.cached_key(header)
    if key is None:
        key = await _authenticate(api, header or "")
    await api.check_rate_async(key)
    return key


api_key = key_dependency(current_api)  # this process's token API


async def _authenticate(api: TokenApi, header: str) -> ApiKeyInfo:
    """The database check, shared by the requests that arrive with the same header while it runs."""
    slot = (id(api), header)
    pending = _pending.get(slot)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[ApiKeyInfo] = asyncio.get_running_loop().create_future()
    _pending[slot] = future
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
        _pending.pop(slot, None)


ApiKey = Annotated[ApiKeyInfo, Depends(api_key)]
Api = Annotated[TokenApi, Depends(token_api)]
