"""Writing a health transition: :func:`write_transition` is the one place every transition is written.

A writer of a portal's health computes the change with :func:`plan` (the row's new ``status`` and
``failing_since``), merges those values into its own UPDATE, and, in the same transaction once the UPDATE
took, calls :func:`write_transition` with the SQL session of that transaction: the transition lands in
the portal's timeline (an ``audit_event`` with ``action='transition'``, its states and its cause) exactly
when the row changes, and never when it does not. Lifecycle events published to others (webhooks) belong
in :func:`write_transition` too, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from dashboard import repository
from dashboard.lifecycle.machine import KEY_RESULTS, HealthEvent, HealthState, state_of, step, stored_status
from dashboard.models import Portal, PortalUpdate

MAX_CAUSE = 1000


@dataclass(frozen=True)
class Change:
    """A planned move of one portal: ``values`` go into the row's UPDATE (status, failing_since)."""

    hub_id: int
    before: HealthState | None  # None: a portal row that did not exist (a first install)
    after: HealthState
    event: HealthEvent
    values: PortalUpdate

    @property
    def moves(self) -> bool:
        return self.before != self.after


def plan(portal: Portal | None, event: HealthEvent, now: datetime, *, hub_id: int | None = None,
         key_kind: str = "key_missing") -> Change:
    """The change ``event`` makes to ``portal`` (read in the writer's transaction or under its lease);
    ``portal`` None: a new row for ``hub_id`` (only a grant creates one). ``key_kind``: which key problem."""
    if portal is None:
        assert hub_id is not None
        assert event == HealthEvent.GRANTED
        return Change(hub_id, None, HealthState.HEALTHY, event, {"status": stored_status(HealthState.HEALTHY),
                                                                "failing_since": None})
    before = state_of(portal.status, portal.last_refresh_result)
    after = step(before, event)
    if after == HealthState.FAILING:
        since = portal.failing_since if before == HealthState.FAILING and portal.failing_since else now
    else:
        since = None
    if after == HealthState.KEY_PROBLEM and event != HealthEvent.KEY:
        key_kind = portal.status if portal.status in KEY_RESULTS else key_kind  # unchanged problem
    values: PortalUpdate = {"status": stored_status(after, key_kind), "failing_since": since}
    return Change(portal.hub_id, before, after, event, values)


def write_transition(session: Session, change: Change, *, actor: str, cause: str, at: datetime) -> bool:
    """Record ``change`` in ``session``'s transaction (the one that wrote the row); False when it is no move.

    The single place a transition is written: add what must happen with every transition here.
    """
    if not change.moves:
        return False
    repository.insert_audit_event(session=session, at=at, actor=actor[:320], hub_id=change.hub_id,
                                  action=repository.TRANSITION, outcome=str(change.after),
                                  detail=f"{change.event}: {cause}"[:MAX_CAUSE],
                                  fields={"from_state": str(change.before) if change.before else "none",
                                          "to_state": str(change.after)})
    return True
