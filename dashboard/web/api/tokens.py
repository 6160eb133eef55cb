"""``/api/v1/portals``: list portals, hand out a fresh access token, force a refresh (:mod:`dashboard.tokens.service`).

``/api/v1/apps/{app}/portals/...`` does the same for one configured app; the paths without an app serve the
default app (DASHBOARD_APP_ID), as they did before apps.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from dashboard.errors import DashboardError, PortalUnavailableError
from dashboard.models import utcnow
from dashboard.tokens.service import TokenApi
from dashboard.web.api.deps import SECURED, ApiKey, app_api, authorize, current_api
from dashboard.web.api.errors import NO_STORE, as_response
from dashboard.web.api.schemas import ErrorBody, HubId, PortalList, PortalPublic, RefreshResult, TokenPublic

router = APIRouter(prefix="/portals", tags=["tokens"])
apps_router = APIRouter(prefix="/apps/{app}/portals", tags=["tokens"])
# Each handler takes the key only: the token API is a plain call (a dependency more costs every request).
_ERR = {"model": ErrorBody}


@router.get("", name="portals", response_model=PortalList, openapi_extra=SECURED,
            summary="Portals this key may see (no token material)")
async def list_portals(key: ApiKey) -> PortalList:
    rows = await run_in_threadpool(current_api().list_portals, key)
    return PortalList(portals=[PortalPublic.model_validate(r) for r in rows])


@router.get("/{hub_id}/token", name="token", response_model=TokenPublic, openapi_extra=SECURED,
            summary="A valid access token, refreshed first (under the portal's lease) when it expires within the "
                    "leeway; concurrent calls cause one refresh",
            responses={409: {**_ERR, "description": "no token can be handed out: needs_reauth, revoked, "
                                                    "key_missing, undecryptable"}})
async def get_token(hub_id: HubId, key: ApiKey) -> Response:
    return await _token(current_api(), hub_id, key)


async def answer_token(hub_id: int, authorization: str | None) -> Response:
    """``GET /portals/{hub_id}/token`` without FastAPI's routing and dependency solving (the API's hot path:
    they cost more than the token read, docs/proofs.md). :class:`~dashboard.web.api.app.ApiRoute` calls it
    for a well-formed path; the same key check and handler as :func:`get_token`, the same error shape."""
    try:
        api = current_api()
        return await _token(api, hub_id, await authorize(api, authorization))
    except (DashboardError, SQLAlchemyError) as exc:
        return as_response(exc)


async def _token(api: TokenApi, hub_id: int, key: ApiKey) -> Response:
    token = await api.access_token_async(key, hub_id)
    body = {"hub_id": token.hub_id, "access_token": token.access_token, "token_type": "bearer",
            "expires_at": token.expires_at.isoformat(),
            "expires_in": max(0, int((token.expires_at - utcnow()).total_seconds()))}
    # The hot path answers its JSON itself (the shape is TokenPublic's; tests/test_api_v1.py validates it):
    # FastAPI's validation and serialisation of the return value cost more than the token read.
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json", headers=NO_STORE)


@router.post("/{hub_id}/refresh", name="refresh", response_model=RefreshResult, openapi_extra=SECURED,
             summary="Force a refresh (operator keys only)",
             responses={403: {**_ERR, "description": "a reader key"},
                        409: {**_ERR, "description": "needs_reauth, revoked, or refresh_in_progress"}})
async def refresh_portal(hub_id: HubId, key: ApiKey) -> RefreshResult:
    return await _refresh(current_api(), hub_id, key)


async def _refresh(api: TokenApi, hub_id: int, key: ApiKey) -> RefreshResult:
    outcome = await run_in_threadpool(api.force_refresh, key, hub_id)
    if outcome.result == "busy":
        raise PortalUnavailableError(outcome.message, code="refresh_in_progress")
    return RefreshResult(hub_id=outcome.hub_id, result=outcome.result, expires_at=outcome.expires_at)


# --- one configured app's portals ----------------------------------------------------------------------
_APP_ERR: dict[int | str, dict[str, Any]] = {403: {**_ERR, "description": "a key restricted to another app"},
            404: {**_ERR, "description": "no such app, or no such portal for this key"}}


@apps_router.get("", name="app_portals", response_model=PortalList, openapi_extra=SECURED, responses=_APP_ERR,
                 summary="Portals of one app this key may see (no token material)")
async def list_app_portals(app: str, key: ApiKey) -> PortalList:
    rows = await run_in_threadpool(app_api(app).list_portals, key)
    return PortalList(portals=[PortalPublic.model_validate(r) for r in rows])


@apps_router.get("/{hub_id}/token", name="app_token", response_model=TokenPublic, openapi_extra=SECURED,
                 summary="A valid access token of one app's portal (refreshed with that app's credentials)",
                 responses={**_APP_ERR, 409: {**_ERR, "description": "no token can be handed out"}})
async def get_app_token(app: str, hub_id: HubId, key: ApiKey) -> Response:
    return await _token(app_api(app), hub_id, key)


@apps_router.post("/{hub_id}/refresh", name="app_refresh", response_model=RefreshResult, openapi_extra=SECURED,
                  summary="Force a refresh of one app's portal (operator keys only)",
                  responses={**_APP_ERR, 409: {**_ERR, "description": "needs_reauth, revoked, or refresh_in_progress"}})
async def refresh_app_portal(app: str, hub_id: HubId, key: ApiKey) -> RefreshResult:
    return await _refresh(app_api(app), hub_id, key)
