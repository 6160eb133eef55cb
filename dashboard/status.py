"""The one status rule for a portal as people see it, and what each status means for support work.

:func:`display_status` is the source of truth. The database evaluates the same rule as a ``CASE`` built by
``repository.display_status_sql`` from the constants below (tiles, filters and sort orders are computed
in SQL at 100,000 portals); a hypothesis test holds the two equal for random rows and instants.

Stored problem states win. A stored status this code does not know (another part of the dashboard may add
one, say ``key_missing``) is a problem too: it is shown, ranked with the problems, never taken for healthy.
A key problem recorded as the last refresh result (``key_missing`` / ``undecryptable``) is shown as such.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum


class DisplayStatus(StrEnum):
    """The statuses people see, in the Status filter's order. Each is a ``str``: an unknown stored status
    (see above) is shown as its own text, so :func:`display_status` returns ``str``."""

    HEALTHY = "healthy"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    REFRESH_FAILING = "refresh_failing"
    NEEDS_REAUTH = "needs_reauth"
    UNDECRYPTABLE = "undecryptable"
    KEY_MISSING = "key_missing"
    REVOKED = "revoked"
    UNINSTALLED = "uninstalled"


ACTIVE = "active"
KEY_PROBLEMS = ("key_missing", "undecryptable")
# Known display statuses in "problems first" order; unknown stored statuses rank with the key problems.
PROBLEMS_FIRST = ("needs_reauth", "undecryptable", "key_missing", "refresh_failing", "expired", "expiring",
                  "healthy", "revoked", "uninstalled")
STATUSES: tuple[str, ...] = tuple(s.value for s in DisplayStatus)  # plain text: widget options, JSON
# Listed only when a status filter asks for them: the app was uninstalled from the account (kept for audit).
HIDDEN_BY_DEFAULT = ("uninstalled",)
# Not connected any more: left out of the "Connected" count.
DISCONNECTED = ("revoked", "uninstalled")
STATUS_LABELS = {
    "healthy": "Healthy", "expiring": "Expiring soon", "expired": "Expired (refreshable)",
    "refresh_failing": "Refresh failing", "needs_reauth": "Needs re-auth", "undecryptable": "Undecryptable",
    "key_missing": "Key missing", "revoked": "Revoked", "uninstalled": "Uninstalled",
}
UNKNOWN_RANK = PROBLEMS_FIRST.index("undecryptable")
RANKS = {s: i for i, s in enumerate(PROBLEMS_FIRST)}
_EARLIEST = datetime.min.replace(tzinfo=UTC)
# Statuses whose access token is not going to be used or refreshed: a countdown there would mislead.
NO_COUNTDOWN = frozenset({"needs_reauth", "revoked", "uninstalled", *KEY_PROBLEMS})
# Shown instead of a countdown or an expiry where the token is not going to be used: what to do about it.
INSTEAD_OF_COUNTDOWN = {"needs_reauth": "re-consent needed", "revoked": "reinstall to reconnect",
                        "uninstalled": "reinstall to reconnect",
                        "undecryptable": "restore the key or reinstall", "key_missing": "restore the key"}
# Streamlit colour names for the coloured status text.
COLOURS = {"healthy": "green", "expiring": "orange", "expired": "orange", "refresh_failing": "red",
           "needs_reauth": "red", "revoked": "gray", "uninstalled": "gray"}
WHAT_TO_DO = {
    "needs_reauth": "Re-consent needed: send the portal's admin a re-consent link.",
    "revoked": "Revoked: reinstall to connect again.",
    "uninstalled": "Uninstalled from the HubSpot account: a new install by the account's admin reconnects it.",
    "refresh_failing": "HubSpot refresh failing: retried with back-off; check Activity for the error.",
    "undecryptable": "Tokens cannot be decrypted: restore the encryption key or reinstall.",
    "key_missing": "Encryption key missing: add the key back (Settings) or reinstall.",
}


MIN_TOKEN_AGE = timedelta(seconds=60)
"""An access token refreshed less than this long ago is never refreshed again automatically (only forced)."""


def fresh_since(now: datetime, worker_interval_seconds: float) -> datetime:
    """Refreshed after this instant = on the workers' schedule: a token is refreshed again automatically once
    it is :data:`MIN_TOKEN_AGE` old, by the next sweep, and a sweep is on time within twice the workers'
    interval (plus a second, the workers' status line's rule)."""
    return now - MIN_TOKEN_AGE - timedelta(seconds=2 * worker_interval_seconds + 1)


def display_status(stored: str, expires_at: datetime | None, now: datetime, leeway: timedelta,
                   last_result: str | None = None, last_refresh_at: datetime | None = None,
                   fresh_after: datetime | None = None) -> str:
    """The one status rule: stored problem states win, then key problems, else freshness decides.

    A token inside the leeway that was refreshed successfully after ``fresh_after`` is healthy: with an
    access-token lifetime shorter than the leeway (a short sandbox TTL) every token is inside the leeway
    right after its refresh, and "Expiring soon" would then say nothing about the portal."""
    if stored != ACTIVE:
        return stored
    if last_result in KEY_PROBLEMS:
        return last_result
    if expires_at is None or expires_at <= now:
        return DisplayStatus.EXPIRED
    if expires_at <= now + leeway:
        recent = (fresh_after is not None and last_result == "success" and last_refresh_at is not None
                  and last_refresh_at >= fresh_after)
        return DisplayStatus.HEALTHY if recent else DisplayStatus.EXPIRING
    return DisplayStatus.HEALTHY


def rank(status: str) -> int:
    """Position in "problems first" order (unknown statuses are problems)."""
    return RANKS.get(status, UNKNOWN_RANK)


def problems_key(status: str, expires_at: datetime | None, hub_id: int) -> tuple[int, datetime, int]:
    """The "problems first" order: by rank; portals whose status follows their expiry (expired, expiring,
    healthy) by expires_at, unknown expiry first; hub id breaks ties."""
    fresh = status in ("expired", "expiring", "healthy") and expires_at is not None
    return rank(status), expires_at if fresh and expires_at else _EARLIEST, hub_id


def label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def is_problem(status: str) -> bool:
    """Needs someone's attention: not healthy/expiring/expired (refreshed automatically), not disconnected."""
    return status not in ("healthy", "expiring", "expired", *DISCONNECTED)


def colour(status: str) -> str:
    return COLOURS.get(status, "red")


def what_to_do(status: str) -> str | None:
    """The instruction shown instead of a countdown (None where the countdown is the truth)."""
    if status in WHAT_TO_DO:
        return WHAT_TO_DO[status]
    return None if status in ("healthy", "expiring", "expired") else f"{label(status)}: see the portal's details."
