"""``/readyz`` and ``/metrics`` for an operator's monitoring (``/healthz`` lives in ``app.py``).

``/metrics`` answers unauthenticated only to loopback clients (a Prometheus beside the dashboard, or a
proxy on the same host that restricts the path itself); anyone else sends ``Authorization: Bearer
<DASHBOARD_METRICS_KEY>``. ``/readyz`` names the failing checks and nothing more.
"""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard.ops import health, metrics
from dashboard.security.host_rules import is_loopback
from dashboard.web.runtime import shared_context

NO_STORE = {"Cache-Control": "no-store"}


def _metrics_allowed(request: Request) -> bool:
    ctx = shared_context()
    key = ctx.settings.dashboard_metrics_key if ctx is not None else None
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if key is not None and scheme.lower() == "bearer" and given:
        return hmac.compare_digest(given.strip().encode(), key.get_secret_value().encode())
    return is_loopback(request.client.host if request.client else None)


async def metrics_endpoint(request: Request) -> Response:
    if not _metrics_allowed(request):
        return JSONResponse({"error": "forbidden", "message": "metrics are served to loopback clients, or with "
                             "Authorization: Bearer <DASHBOARD_METRICS_KEY>"}, status_code=403, headers=NO_STORE)
    body = await run_in_threadpool(metrics.render, shared_context())
    return Response(body, media_type=metrics.CONTENT_TYPE, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    ctx = shared_context()
    if ctx is None:
        return JSONResponse({"status": "not_ready", "failing": ["configuration"],
                             "checks": {"configuration": "the dashboard could not start; see its log"}},
                            status_code=503, headers=NO_STORE)
    result = await run_in_threadpool(health.readiness, ctx)
    return JSONResponse({"status": "ready" if result.ready else "not_ready", "failing": result.failing,
                         "checks": result.checks}, status_code=200 if result.ready else 503, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    return [
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
