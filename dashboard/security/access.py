"""Who may use the dashboard: roles from settings, and whether an unauthenticated server is allowed.

Roles come from ``DASHBOARD_ADMINS`` / ``DASHBOARD_OPERATORS`` / ``DASHBOARD_VIEWERS`` (emails or
``@domain`` entries; an email match wins over a domain match, and the highest matching role wins among
equals). With no sign-in configured the dashboard is usable only while it listens on loopback; then the
local user is admin.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.actors import ADMIN, OPERATOR, ROLES, VIEWER, Actor
from dashboard.security.host_rules import allowed, is_loopback
from dashboard.settings import Settings

LOCAL_ADMIN = Actor("local-admin", ADMIN)


def _entries(text: str) -> list[str]:
    return [e.strip().lower() for e in text.split(",") if e.strip()]


def role_for(email: str | None, settings: Settings) -> str | None:
    """The role of a signed-in ``email``, or None (no access)."""
    if not email or "@" not in email:
        return None
    email = email.strip().lower()
    domain = "@" + email.rsplit("@", 1)[1]
    table = {ADMIN: settings.dashboard_admins, OPERATOR: settings.dashboard_operators,
             VIEWER: settings.dashboard_viewers}
    for match in (email, domain):  # an exact email beats a domain rule
        found = [role for role, text in table.items() if match in _entries(text)]
        if found:
            return max(found, key=ROLES.index)
    return None


@dataclass(frozen=True)
class AccessDecision:
    """What a page may show: an actor, or a reason why not (and whom to ask)."""

    actor: Actor | None
    reason: str = ""
    no_sign_in: bool = False


def decide(*, sign_in_configured: bool, logged_in: bool, email: str | None, server_address: str | None,
           settings: Settings, request_host: str | None = None, request_origin: str | None = None,
           server_port: int | None = None) -> AccessDecision:
    """The access rule, pure so it is tested without Streamlit.

    ``request_host`` / ``request_origin`` are the browser's headers (None where there are none, as in
    AppTest): without sign-in, a loopback bind serves only a loopback Host on ``server_port``.
    """
    admins = ", ".join(_entries(settings.dashboard_admins)) or "the person who runs this dashboard"
    if not sign_in_configured:
        foreign = request_host is not None and allowed(
            kind="websocket", host=request_host, origin=request_origin, port=server_port, sign_in=False) is not None
        if is_loopback(server_address) and not foreign:
            return AccessDecision(LOCAL_ADMIN, no_sign_in=True)
        opened = ("runs without sign-in and was opened under a name that is not a loopback address "
                  "(127.0.0.1 or localhost)" if foreign else
                  f"listens on {server_address or 'all interfaces'} without sign-in")
        return AccessDecision(None, (
            f"This dashboard {opened}, so it shows no "
            "data. Configure sign-in (an [auth] section in .streamlit/secrets.toml, see docs/sign-in.md) "
            "or listen on 127.0.0.1 only (server.address in .streamlit/config.toml)."), no_sign_in=True)
    if not logged_in:
        return AccessDecision(None, "Please sign in.")
    role = role_for(email, settings)
    if role is None:
        return AccessDecision(None, f"You are signed in as {email}, but you have no role on this dashboard. "
                                    f"Ask an admin ({admins}) to add you.")
    return AccessDecision(Actor(str(email), role))
