"""Who may use the dashboard: roles from settings, and whether an unauthenticated server is allowed.

Roles come from ``DASHBOARD_ADMINS`` / ``DASHBOARD_OPERATORS`` / ``DASHBOARD_VIEWERS`` (emails or
``@domain`` entries; an email match wins over a domain match, and the highest matching role wins among
equals). With no sign-in configured the dashboard is usable only while it listens on loopback; then the
local user is admin.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dashboard.actors import ADMIN, OPERATOR, ROLES, VIEWER, Actor
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


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; an empty address means all interfaces."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AccessDecision:
    """What a page may show: an actor, or a reason why not (and whom to ask)."""

    actor: Actor | None
    reason: str = ""
    no_sign_in: bool = False


def decide(*, sign_in_configured: bool, logged_in: bool, email: str | None, server_address: str | None,
           settings: Settings) -> AccessDecision:
    """The access rule, pure so it is tested without Streamlit."""
    admins = ", ".join(_entries(settings.dashboard_admins)) or "the person who runs this dashboard"
    if not sign_in_configured:
        if is_loopback(server_address):
            return AccessDecision(LOCAL_ADMIN, no_sign_in=True)
        return AccessDecision(None, (
            f"This dashboard listens on {server_address or 'all interfaces'} without sign-in, so it shows no "
            "data. Configure sign-in (an [auth] section in .streamlit/secrets.toml, see README 'Sign-in and "
            "roles') or listen on 127.0.0.1 only (server.address in .streamlit/config.toml)."), no_sign_in=True)
    if not logged_in:
        return AccessDecision(None, "Please sign in.")
    role = role_for(email, settings)
    if role is None:
        return AccessDecision(None, f"You are signed in as {email}, but you have no role on this dashboard. "
                                    f"Ask an admin ({admins}) to add you.")
    return AccessDecision(Actor(str(email), role))
