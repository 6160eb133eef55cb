"""The ASGI parts of the dashboard: the lifespan (one per server process) and the routes beside the pages.

Streamlit calls the lifespan once when the server starts, before any browser session, and leaves it when
the server stops: the place for process-wide work (the shared context, the embedded refresh worker).
A configuration problem does not stop the server: the pages show it as one line, and the routes answer
503, so fixing the setting and restarting is all it takes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard import worker
from dashboard.context import build_context
from dashboard.errors import DashboardError
from dashboard.settings import load_settings
from dashboard.web import connect
from dashboard.web.host_guard import HostGuard
from dashboard.web.runtime import set_shared_context
from dashboard.web.tcp import set_nodelay_on_listeners

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    try:
        ctx = build_context(load_settings())
    except DashboardError as exc:
        log.error("the dashboard cannot start its context: %s", exc)
        ctx = None
    set_shared_context(ctx)
    set_nodelay_on_listeners()  # keep-alive responses would otherwise wait 40 ms each (see tcp.py)
    if ctx is not None:
        worker.start_embedded(ctx)  # one per server process; DASHBOARD_EMBEDDED_WORKER=false turns it off
    try:
        yield {}
    finally:
        # Refreshes in flight finish and store their tokens before the context closes.
        await asyncio.to_thread(worker.stop_embedded)
        set_shared_context(None)
        if ctx is not None:
            ctx.close()


async def healthz(request: Request) -> Response:
    """The process is up (liveness); readiness checks belong to ``/readyz``."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def build_routes() -> list[BaseRoute]:
    """Every route served beside the pages; each feature adds its module's routes here."""
    from dashboard.web import api_routes, ops_routes, proxy_routes

    proxy_app = proxy_routes.build_app()  # FastAPI; joins the /api/v1 FastAPI app at merge
    return [
        Route("/healthz", healthz, methods=["GET"]),
        *ops_routes.routes(),
        *api_routes.routes(),
        Route(proxy_routes.PROXY_PATH.replace("{hub_id}", "{hub_id:int}"), proxy_app),
        Route(proxy_routes.USAGE_PATH.replace("{hub_id}", "{hub_id:int}"), proxy_app),
        *connect.routes(),
    ]


def build_middleware(*, sign_in_configured: Callable[[], bool],
                     trusted_origins: Callable[[], Sequence[str]] = tuple) -> list[Middleware]:
    """Middleware for every request and websocket: loopback trust bound to the Host (``host_guard``)."""
    return [Middleware(HostGuard, sign_in_configured=sign_in_configured, trusted_origins=trusted_origins)]
