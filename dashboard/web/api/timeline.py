"""``GET /api/v1/portals/{hub_id}/timeline``: a portal's timeline (:mod:`dashboard.lifecycle.timeline`), newest
first, paged with ``before`` (the last ``id`` of the previous page, ``next_before`` in the answer).

``/api/v1/apps/{app}/portals/{hub_id}/timeline`` is one configured app's portal (the same hub id in another app
is another portal, with its own rows); the path without an app serves the default app."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from dashboard.actors import VIEWER, Actor
from dashboard.admin.api_keys import ApiKeyInfo, check_portal
from dashboard.lifecycle import timeline
from dashboard.tokens.service import TokenApi
from dashboard.web.api.deps import SECURED, ApiKey, app_api, current_api
from dashboard.web.api.schemas import ErrorBody, HubId

router = APIRouter(prefix="/portals", tags=["health"])
apps_router = APIRouter(prefix="/apps/{app}/portals", tags=["health"])


class TimelineEvent(BaseModel):
    """One operation on the connection or one state transition; HubSpot's fields when it answered."""

    id: int
    at: datetime
    kind: str
    outcome: str
    actor: str
    detail: str
    http_status: int | None
    hubspot_status: str | None
    hubspot_category: str | None
    correlation_id: str | None
    answer: str | None
    duration_ms: int | None
    attempt: int | None
    from_state: str | None
    to_state: str | None


class TimelinePage(BaseModel):
    hub_id: int
    events: list[TimelineEvent]
    next_before: int | None


def _page(api: TokenApi, key: ApiKeyInfo, hub_id: int, since: datetime | None, limit: int, before: int | None,
          kind: str, outcome: str) -> TimelinePage:
    check_portal(key, hub_id, app=api.ctx.app_id)  # another app's key: 403; an unknown portal: 404, no probing
    entries = timeline.portal_timeline(api.ctx, hub_id, actor=Actor(key.actor_name, VIEWER), since=since,
                                       limit=limit, before_id=before,
                                       kinds=tuple(k for k in kind.split(",") if k),
                                       outcomes=tuple(o for o in outcome.split(",") if o))
    return TimelinePage(hub_id=hub_id, events=[TimelineEvent(**e.as_json()) for e in entries],
                        next_before=entries[-1].id if len(entries) == limit else None)


# The query parameters both routes take.
Since = Annotated[str | None, Query(pattern=r"^[0-9]{1,4}[smhd]$",
                                    description="a span back from now (90m, 24h, 7d); an ISO 8601 time is accepted "
                                                "too")]
Limit = Annotated[int, Query(ge=1, le=timeline.MAX_LIMIT)]
Before = Annotated[int | None, Query(ge=1, le=timeline.MAX_HUB_ID)]
Kinds = Annotated[str, Query(max_length=200, description="comma-separated kinds")]
Outcomes = Annotated[str, Query(max_length=200, description="comma-separated")]
_NOT_FOUND = "unknown portal, or not one this key may see"


@router.get("/{hub_id}/timeline", name="timeline", response_model=TimelinePage, openapi_extra=SECURED,
            summary="The portal's timeline, newest first: operations, HubSpot's answers, state transitions",
            responses={403: {"model": ErrorBody, "description": "a key restricted to another app"},
                       404: {"model": ErrorBody, "description": _NOT_FOUND}})
async def get_timeline(hub_id: HubId, key: ApiKey, since: Since = None, limit: Limit = 50, before: Before = None,
                       kind: Kinds = "", outcome: Outcomes = "") -> TimelinePage:
    return await _timeline(current_api(), hub_id, key, since, limit, before, kind, outcome)


@apps_router.get("/{hub_id}/timeline", name="app_timeline", response_model=TimelinePage, openapi_extra=SECURED,
                 summary="One app's portal's timeline, newest first",
                 responses={403: {"model": ErrorBody, "description": "a key restricted to another app"},
                            404: {"model": ErrorBody, "description": "no such app, or " + _NOT_FOUND}})
async def get_app_timeline(app: str, hub_id: HubId, key: ApiKey, since: Since = None, limit: Limit = 50,
                           before: Before = None, kind: Kinds = "", outcome: Outcomes = "") -> TimelinePage:
    return await _timeline(app_api(app), hub_id, key, since, limit, before, kind, outcome)


async def _timeline(api: TokenApi, hub_id: int, key: ApiKeyInfo, since: str | None, limit: int, before: int | None,
                    kind: str, outcome: str) -> TimelinePage:
    when = timeline.parse_since(since) if since else None
    return await run_in_threadpool(_page, api, key, hub_id, when, limit, before, kind, outcome)
