"""The ``/api/v1`` FastAPI app, and the route that puts it inside the ``st.App`` (same process, same port).

``build_api(*routers)`` makes the app: the token routes (:mod:`.tokens`) and any router given (the HubSpot
proxy, health timelines ...), each mounted under ``/api/v1``; the OpenAPI document is generated from their
pydantic models and served at ``/api/v1/openapi.json``. ``api_route(app)`` hands every request whose path
is ``/api/v1`` or below to it, unchanged (so the document's paths are the real ones), counts each answer in
``/metrics`` by route and status (``GET /portals/{hub_id}/token``, the hot path, is answered without
FastAPI's routing: :func:`.tokens.answer_token`), adds ``Cache-Control: no-store`` where a handler did not, and turns
anything unexpected into the one JSON error shape (500).
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.hubspot.hub_ids import MAX_HUB_ID
from dashboard.ops import counters
from dashboard.web.api import timeline, tokens
from dashboard.web.api.deps import SECURITY_SCHEMES
from dashboard.web.api.errors import COMMON_RESPONSES, NO_STORE, error_response, install_handlers

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
_TOKEN_PATH = re.compile(re.escape(PREFIX) + r"/portals/([1-9][0-9]{0,18})/token")  # others: FastAPI's 400
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


def build_api(*routers: APIRouter) -> FastAPI:
    """The API app: token and timeline routes plus ``routers`` (each under ``/api/v1``, errors documented)."""
    app = FastAPI(title="HubSpot OAuth dashboard: token API", version="1",
                  description="Fresh HubSpot access tokens for the company's services. Every response is "
                              "Cache-Control: no-store; every error is the Error shape. Keys: "
                              "`python -m dashboard api-keys create`.",
                  openapi_url=None, docs_url=None, redoc_url=None,  # the document: ``document`` below
                  # Our metrics are Prometheus's (/metrics); FastAPI's OpenTelemetry hooks cost every request.
                  telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False})
    for router in (tokens.router, tokens.apps_router, timeline.router, timeline.apps_router, *routers):
        app.include_router(router, prefix=PREFIX, responses=COMMON_RESPONSES)
    install_handlers(app)
    schema: dict[str, Any] | None = None

    def openapi() -> dict[str, Any]:
        nonlocal schema
        if schema is None:
            with warnings.catch_warnings():
                # A route serving several methods (the proxy's) has one id in FastAPI: each method's is set below.
                warnings.filterwarnings("ignore", message="Duplicate Operation ID", category=UserWarning)
                schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                     routes=app.routes, openapi_version=app.openapi_version)
            for path in schema.get("paths", {}).values():
                for method, operation in path.items():
                    operation.get("responses", {}).pop("422", None)  # FastAPI's default 422 is answered as a 400
                    operation_id = operation.get("operationId", "")
                    if operation_id and not operation_id.endswith(f"_{method}"):  # FastAPI's: "<name><path>_<method>"
                        operation["operationId"] = f"{operation_id.rpartition('_')[0]}_{method}"
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
            schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the document

    async def document(request: Request) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(openapi), headers=NO_STORE)

    app.add_route(f"{PREFIX}/openapi.json", document, methods=["GET"], include_in_schema=False)
    return app


class ApiRoute(BaseRoute):
    """Every path at or below ``/api/v1`` goes to the API app (never to Streamlit's HTML)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0
        route_name: str | None = None

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.extend(_NO_STORE)  # every API answer, whichever handler made it
            await send(message)

        try:
            token = _TOKEN_PATH.fullmatch(scope["path"]) if scope["method"] == "GET" else None
            if token is not None and int(token[1]) <= MAX_HUB_ID:
                # The hot path: answered as the FastAPI route would (tests/test_api_fast_path.py compares them).
                route_name = "token"
                authorization = next((value.decode("latin-1") for name, value in scope["headers"]
                                      if name == b"authorization"), None)
                await (await tokens.answer_token(int(token[1]), authorization))(scope, receive, counted)
            else:
                await self.app(scope, receive, counted)
        except Exception as exc:  # handled by the app's 500 handler, then re-raised by Starlette
            if status == 0:
                log.error("token API: unexpected %s", exc.__class__.__name__)
                await error_response(500, "internal_error", "an unexpected error; see the server's log")(
                    scope, receive, counted)
        route_name = route_name or getattr(scope.get("route"), "name", None)
        counters.record_api_request(route_name or "unmatched", status or 500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)


def api_route(app: FastAPI | None = None) -> ApiRoute:
    return ApiRoute(app or build_api())
