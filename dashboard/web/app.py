"""The ASGI parts of the dashboard: the lifespan (one per server process) and the routes beside the pages.

Streamlit calls the lifespan once when the server starts, before any browser session, and leaves it when
the server stops: the place for process-wide work (the shared context, the embedded refresh worker).
A configuration problem does not stop the server: the pages show it as one line, and the routes answer
503, so fixing the setting and restarting is all it takes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard.context import build_context
from dashboard.errors import DashboardError
from dashboard.installs.redirect_target import follow_server
from dashboard.refresh import worker
from dashboard.settings import load_settings
from dashboard.web import connect
from dashboard.web.frame_guard import FrameGuard
from dashboard.web.host_guard import HostGuard
from dashboard.web.runtime import set_shared_context
from dashboard.web.tcp import set_nodelay_on_listeners

log = logging.getLogger(__name__)


def build_lifespan(server_port: Callable[[], int | None] = lambda: None,
                   ) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]:
    """The lifespan of a server listening on ``server_port()`` (read when it starts: Streamlit has settled the
    port by then). In sandbox mode without HUBSPOT_REDIRECT_URI, installs come back to that port."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        async with _serve(server_port) as state:
            yield state

    return lifespan


@asynccontextmanager
async def _serve(server_port: Callable[[], int | None]) -> AsyncIterator[dict[str, Any]]:
    try:
        ctx = build_context(follow_server(load_settings(), port=server_port()))
    except DashboardError as exc:
        log.error("the dashboard cannot start its context: %s", exc)
        ctx = None
    set_shared_context(ctx)
    set_nodelay_on_listeners()  # keep-alive responses would otherwise wait 40 ms each (see tcp.py)
    if ctx is not None:
        worker.start_embedded(ctx)  # one per server process; DASHBOARD_EMBEDDED_WORKER=false turns it off
    # Everything built so far (Streamlit, SQLAlchemy, FastAPI and their modules: some 200,000 objects or more) lives
    # as long as the process; left to the collector, each full collection walks it all, a pause of tens of ms
    # for every request in flight: the token API's p99 (docs/proofs.md). Frozen, collections walk only what
    # requests and sessions allocate.
    gc.freeze()
    try:
        yield {}
    finally:
        # Refreshes in flight finish and store their tokens before the context closes.
        await asyncio.to_thread(worker.stop_embedded)
        from dashboard.web import proxy_routes  # imported where it is used, as in build_routes

        await asyncio.to_thread(proxy_routes.close_shared_backend)  # every app's last usage counts saved
        set_shared_context(None)
        if ctx is not None:
            for app_ctx in ctx.each_app():  # the proxy's connections on this loop, each app's, before it ends
                await app_ctx.hubspot.forwarder.aclose()
            ctx.close()


lifespan = build_lifespan()  # a server whose port nobody passed: the redirect URI as configured


async def healthz(request: Request) -> Response:
    """The process is up (liveness); readiness checks belong to ``/readyz``."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def build_routes() -> list[BaseRoute]:
    """Every route served beside the pages; each feature adds its module's routes here.

    The ``/api/v1`` routers are FastAPI ``APIRouter``s given to :func:`build_api` (``build_api(proxy.router)``).
    """
    from dashboard.web import ops_routes, proxy_routes
    from dashboard.web.api import api_route, build_api

    return [
        Route("/healthz", healthz, methods=["GET"]),
        *ops_routes.routes(),
        api_route(build_api(proxy_routes.build_router())),
        *connect.routes(),
    ]


def build_middleware(*, sign_in_configured: Callable[[], bool],
                     trusted_origins: Callable[[], Sequence[str]] = tuple,
                     allowed_hosts: Callable[[], Sequence[str]] = tuple) -> list[Middleware]:
    """Middleware for every request and websocket, outermost first: no framing (``frame_guard``, so even a
    refusal carries its headers), then loopback trust bound to the Host (``host_guard``)."""
    return [Middleware(FrameGuard),
            Middleware(HostGuard, sign_in_configured=sign_in_configured, trusted_origins=trusted_origins,
                       allowed_hosts=allowed_hosts)]
