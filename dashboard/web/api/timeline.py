"""``GET /api/v1/portals/{hub_id}/timeline``: a portal's timeline (:mod:`dashboard.lifecycle.timeline`), newest
first, paged with ``before`` (the last ``id`` of the previous page, ``next_before`` in the answer)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from dashboard.actors import VIEWER, Actor
from dashboard.api_keys import ApiKeyInfo, check_portal
from dashboard.lifecycle import timeline
from dashboard.web.api.deps import SECURED, ApiKey, current_api
from dashboard.web.api.schemas import ErrorBody, HubId

router = APIRouter(prefix="/portals", tags=["health"])


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


def _page(key: ApiKeyInfo, hub_id: int, since: datetime | None, limit: int, before: int | None,
          kind: str, outcome: str) -> TimelinePage:
    check_portal(key, hub_id, app=current_api().ctx.app_id)  # an unknown portal's answer: no probing
    entries = timeline.portal_timeline(current_api().ctx, hub_id, actor=Actor(key.actor_name, VIEWER), since=since,
                                       limit=limit, before_id=before,
                                       kinds=tuple(k for k in kind.split(",") if k),
                                       outcomes=tuple(o for o in outcome.split(",") if o))
    return TimelinePage(hub_id=hub_id, events=[TimelineEvent(**e.as_json()) for e in entries],
                        next_before=entries[-1].id if len(entries) == limit else None)


@router.get("/{hub_id}/timeline", name="timeline", response_model=TimelinePage, openapi_extra=SECURED,
            summary="The portal's timeline, newest first: operations, HubSpot's answers, state transitions",
            responses={404: {"model": ErrorBody, "description": "unknown portal, or not one this key may see"}})
async def get_timeline(hub_id: HubId, key: ApiKey,
                       since: Annotated[str | None, Query(
                           pattern=r"^[0-9]{1,4}[smhd]$",
                           description="a span back from now (90m, 24h, 7d); an ISO 8601 time is accepted too")
                       ] = None,
                       limit: Annotated[int, Query(ge=1, le=timeline.MAX_LIMIT)] = 50,
                       before: Annotated[int | None, Query(ge=1, le=timeline.MAX_HUB_ID)] = None,
                       kind: Annotated[str, Query(max_length=200, description="comma-separated kinds")] = "",
                       outcome: Annotated[str, Query(max_length=200, description="comma-separated")] = ""
                       ) -> TimelinePage:
    when = timeline.parse_since(since) if since else None
    return await run_in_threadpool(_page, key, hub_id, when, limit, before, kind, outcome)
