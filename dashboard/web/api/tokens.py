"""``/api/v1/portals``: list portals, hand out a fresh access token, force a refresh (:mod:`dashboard.token_api`)."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dashboard.errors import PortalUnavailableError
from dashboard.models import utcnow
from dashboard.web.api.deps import SECURED, ApiKey, current_api
from dashboard.web.api.errors import NO_STORE
from dashboard.web.api.schemas import ErrorBody, HubId, PortalList, PortalPublic, RefreshResult, TokenPublic

router = APIRouter(prefix="/portals", tags=["tokens"])
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
    token = await current_api().access_token_async(key, hub_id)
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
    outcome = await run_in_threadpool(current_api().force_refresh, key, hub_id)
    if outcome.result == "busy":
        raise PortalUnavailableError(outcome.message, code="refresh_in_progress")
    return RefreshResult(hub_id=outcome.hub_id, result=outcome.result, expires_at=outcome.expires_at)
