r"""The one health state machine of a connection: its states, the events that move it, and the rule.

Pure: no I/O. Every writer of a portal's health (refresh, its failures, install, re-consent, revoke,
uninstall, the spill journal's replay) asks :func:`step` for the next state and writes it through
:func:`dashboard.lifecycle.transitions.write_transition`, in the transaction of the row it changes.

::

        granted ──────────────►  HEALTHY  ◄──────────── refreshed ─────────────┐
        (from every state)     │    │    │                                      │
                     transient │    │ key└────────────► KEY_PROBLEM ────────────┤
                               v    │                     │  ▲                  │
                 ┌──────► FAILING ──┼─────── key ─────────┼──┘                  │
       transient └────────┘  │ └────┼─────────────────── refreshed ─────────────┘
                             │      │ terminal (invalid_grant)
                    terminal └──────┴──────────────► NEEDS_REAUTH ──┐
                                                                    │ revoked (ours)
        HEALTHY / FAILING / KEY_PROBLEM ── revoked ──► REVOKED ◄────┘
        every state ── uninstalled (HubSpot says so, or ours) ──► UNINSTALLED

    state  \ event   refreshed  transient  terminal      key          revoked  uninstalled  granted
    HEALTHY          HEALTHY    FAILING    NEEDS_REAUTH  KEY_PROBLEM  REVOKED  UNINSTALLED  HEALTHY
    FAILING          HEALTHY    FAILING    NEEDS_REAUTH  KEY_PROBLEM  REVOKED  UNINSTALLED  HEALTHY
    KEY_PROBLEM      HEALTHY    FAILING    NEEDS_REAUTH  KEY_PROBLEM  REVOKED  UNINSTALLED  HEALTHY
    NEEDS_REAUTH     =          =          =             =            REVOKED  UNINSTALLED  HEALTHY
    REVOKED          =          =          =             =            =        UNINSTALLED  HEALTHY
    UNINSTALLED      =          =          =             =            =        =            HEALTHY

    ``configuration`` (invalid_client, redirect mismatch) moves no portal: it is one app-wide condition.

Terminal states (NEEDS_REAUTH, REVOKED, UNINSTALLED) are left only by ``granted``: a new grant.
``failing_since`` is set exactly while the state is FAILING (kept from the first failure of the run).

How a state is stored (the columns existing pages, filters and SQL already read): HEALTHY is status
``active``; FAILING is ``refresh_failing``; KEY_PROBLEM is status ``key_missing`` or ``undecryptable`` (which
key problem); the terminal states are their own status. :func:`dashboard.status.display_status` of that
row is the state's displayed status (healthy / expiring / expired for HEALTHY, by its expiry).
"""

from __future__ import annotations

from enum import StrEnum

from dashboard.models import PortalStatus

KEY_RESULTS = ("key_missing", "undecryptable")


class HealthState(StrEnum):
    HEALTHY = "healthy"
    FAILING = "failing"
    KEY_PROBLEM = "key_problem"
    NEEDS_REAUTH = "needs_reauth"
    REVOKED = "revoked"
    UNINSTALLED = "uninstalled"


class HealthEvent(StrEnum):
    """What happened to the connection (the cause of a transition)."""

    GRANTED = "granted"  # install, re-consent, a new grant of any kind
    REFRESHED = "refreshed"
    TRANSIENT = "transient"  # HubSpot or the network failed; worth retrying
    TERMINAL = "terminal"  # invalid_grant: BAD_REFRESH_TOKEN, BAD_HUB, ...
    KEY = "key"  # the row's encryption key is missing or does not open it
    CONFIGURATION = "configuration"  # HubSpot refuses the app itself: app-wide, not the portal's
    REVOKED = "revoked"
    UNINSTALLED = "uninstalled"


TERMINAL_STATES = frozenset({HealthState.NEEDS_REAUTH, HealthState.REVOKED, HealthState.UNINSTALLED})
UP_STATES = frozenset({HealthState.HEALTHY})
"""States counted as "up" by uptime: the connection hands out working tokens."""

_STORED = {
    HealthState.HEALTHY: PortalStatus.ACTIVE,
    HealthState.FAILING: PortalStatus.REFRESH_FAILING,
    HealthState.NEEDS_REAUTH: PortalStatus.NEEDS_REAUTH,
    HealthState.REVOKED: PortalStatus.REVOKED,
    HealthState.UNINSTALLED: PortalStatus.UNINSTALLED,
}


def step(state: HealthState, event: HealthEvent) -> HealthState:
    """The next state after ``event`` in ``state`` (the same state when the event does not move it)."""
    if event == HealthEvent.GRANTED:
        return HealthState.HEALTHY
    if event == HealthEvent.UNINSTALLED:
        return HealthState.UNINSTALLED
    if state in TERMINAL_STATES:
        if event == HealthEvent.REVOKED and state == HealthState.NEEDS_REAUTH:
            return HealthState.REVOKED
        return state  # only a new grant leaves a terminal state
    moves = {
        HealthEvent.REFRESHED: HealthState.HEALTHY,
        HealthEvent.TRANSIENT: HealthState.FAILING,
        HealthEvent.TERMINAL: HealthState.NEEDS_REAUTH,
        HealthEvent.KEY: HealthState.KEY_PROBLEM,
        HealthEvent.REVOKED: HealthState.REVOKED,
    }
    return moves.get(event, state)  # CONFIGURATION moves no portal


def state_of(status: str, last_result: str | None) -> HealthState:
    """The state a stored row is in (an unknown stored status counts as failing: a problem, never healthy)."""
    if status == PortalStatus.ACTIVE:
        return HealthState.HEALTHY
    if status in KEY_RESULTS or (status == PortalStatus.REFRESH_FAILING and last_result in KEY_RESULTS):
        return HealthState.KEY_PROBLEM  # the second form: rows written before this state machine
    if status == PortalStatus.REFRESH_FAILING:
        return HealthState.FAILING
    for state, stored in _STORED.items():
        if stored == status and state in TERMINAL_STATES:
            return state
    return HealthState.FAILING


def stored_status(state: HealthState, key_kind: str = "key_missing") -> str:
    """The ``portal.status`` value of ``state`` (``key_kind``: which key problem)."""
    return key_kind if state == HealthState.KEY_PROBLEM else str(_STORED[state])


def display_family(display: str) -> HealthState:
    """The state a displayed status (dashboard/status.py) belongs to: the "displayed status equals the state"
    invariant of the stateful test, and the legend of the state strip."""
    if display in ("healthy", "expiring", "expired"):
        return HealthState.HEALTHY
    if display in KEY_RESULTS:
        return HealthState.KEY_PROBLEM
    if display == "refresh_failing":
        return HealthState.FAILING
    return HealthState(display)
