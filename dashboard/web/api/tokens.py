"""``/api/v1/portals``: list portals, hand out a fresh access token, force a refresh (:mod:`dashboard.token_api`)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from dashboard.errors import PortalUnavailableError
from dashboard.models import utcnow
from dashboard.web.api.deps import Api, ApiKey
from dashboard.web.api.schemas import ErrorBody, HubId, PortalList, PortalPublic, RefreshResult, TokenPublic

router = APIRouter(prefix="/portals", tags=["tokens"])
_ERR = {"model": ErrorBody}


@router.get("", name="portals", response_model=PortalList, summary="Portals this key may see (no token material)")
async def list_portals(api: Api, key: ApiKey) -> PortalList:
    rows = await run_in_threadpool(api.list_portals, key)
    return PortalList(portals=[PortalPublic.model_validate(r) for r in rows])


@router.get("/{hub_id}/token", name="token", response_model=TokenPublic,
            summary="A valid access token, refreshed first (under the portal's lease) when it expires within the "
                    "leeway; concurrent calls cause one refresh",
            responses={409: {**_ERR, "description": "no token can be handed out: needs_reauth, revoked, "
                                                    "key_missing, undecryptable"}})
async def get_token(hub_id: HubId, api: Api, key: ApiKey) -> TokenPublic:
    token = await api.access_token_async(key, hub_id)
    return TokenPublic(hub_id=token.hub_id, access_token=token.access_token, expires_at=token.expires_at,
                       expires_in=max(0, int((token.expires_at - utcnow()).total_seconds())))


@router.post("/{hub_id}/refresh", name="refresh", response_model=RefreshResult,
             summary="Force a refresh (operator keys only)",
             responses={403: {**_ERR, "description": "a reader key"},
                        409: {**_ERR, "description": "needs_reauth, revoked, or refresh_in_progress"}})
async def refresh_portal(hub_id: HubId, api: Api, key: ApiKey) -> RefreshResult:
    outcome = await run_in_threadpool(api.force_refresh, key, hub_id)
    if outcome.result == "busy":
        raise PortalUnavailableError(outcome.message, code="refresh_in_progress")
    return RefreshResult(hub_id=outcome.hub_id, result=outcome.result, expires_at=outcome.expires_at)
