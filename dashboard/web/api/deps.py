"""FastAPI dependencies shared by every ``/api/v1`` router: the process's context and token API, the caller's key.

Other routers (the HubSpot proxy, health timelines) use these too: ``Depends(api_key)`` authenticates the
caller and applies its rate limit; ``Depends(token_api)`` is this process's :class:`TokenApi`.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from dashboard.api_keys import ApiKeyInfo
from dashboard.context import AppContext
from dashboard.token_api import TokenApi
from dashboard.web.api.errors import NotConfiguredError
from dashboard.web.runtime import shared_context

# Dependencies are ``async def``: FastAPI runs a plain ``def`` one in a worker thread, a hop per request.
# Documents the scheme in the OpenAPI document; the header itself is checked by api_keys (one message per case).
bearer = HTTPBearer(auto_error=False, scheme_name="apiKey", description="Authorization: Bearer hsd_<prefix>_<secret>")

_lock = threading.Lock()
_api: TokenApi | None = None


async def context() -> AppContext:
    ctx = shared_context()
    if ctx is None:
        raise NotConfiguredError("the dashboard could not start; see its log")
    return ctx


async def token_api(ctx: Annotated[AppContext, Depends(context)]) -> TokenApi:
    """This process's :class:`TokenApi` (its rate limiter, key cache and read tally are shared by requests)."""
    global _api  # one per server process, like the context it wraps
    with _lock:
        if _api is None or _api.ctx is not ctx:
            _api = TokenApi(ctx)
        return _api


async def api_key(api: Annotated[TokenApi, Depends(token_api)],
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> ApiKeyInfo:
    """The caller's key (401 otherwise), within its rate (429 otherwise)."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    key = api.cached_key(header)
    if key is None:
        key = await run_in_threadpool(api.authenticate, header)
    api.check_rate(key)
    return key


ApiKey = Annotated[ApiKeyInfo, Depends(api_key)]
Api = Annotated[TokenApi, Depends(token_api)]
