"""Sendable install and re-consent links: ``<dashboard>/connect/<opaque id>``, for a customer's HubSpot admin.

An install ``state`` lives 10 minutes and works once, which is too short for a link sent by email. A
sendable link lives ``DASHBOARD_LINK_TTL_DAYS`` (7 by default); opening it creates a fresh state in the
name of the operator who created the link and redirects to HubSpot, so the state stays short-lived and
single use. The link's id is 256 random bits, stored only as its SHA-256. It is single install: the
install it leads to marks it used (see :mod:`dashboard.installs.flow`); it can be revoked before that. A used,
revoked, expired or unknown link is refused before anything is sent to HubSpot.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import InputError, NotFoundError, StateError
from dashboard.hubspot.hub_ids import check_hub_id
from dashboard.installs import flow as install
from dashboard.models import InstallLink, utcnow
from dashboard.scopes.catalog import ScopeSet
from dashboard.security import audit
from dashboard.security.guard import require

CONNECT_PATH = "/connect/"
MAX_TOKEN = 128
LIVE_STATES = 10  # unused, unexpired states per link: a customer's tabs and retries, not a flood
AUDIT_EVERY = timedelta(minutes=1)  # one link.open audit event per link and minute, with a count
log = logging.getLogger(__name__)


def hash_link(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def dashboard_base_url(ctx: AppContext) -> str:
    """The dashboard's public address: the origin of its redirect URI, which the customer's browser reaches."""
    parts = urlsplit(ctx.app.redirect_uri)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class SendableLink:
    url: str
    link_id: int
    expires_at: datetime


@dataclass(frozen=True)
class LinkPublic:
    """A link as lists show it (never the opaque id: only its creator ever sees that, once)."""

    link_id: int
    purpose: str
    created_by: str
    created_at: datetime | None
    expires_at: datetime | None
    account_id: int | None
    scopes: str
    optional_scopes: str
    status: str  # open | used | revoked | expired
    used_at: datetime | None
    used_hub_id: int | None


def link_status(link: InstallLink, now: datetime) -> str:
    if link.revoked_at is not None:
        return "revoked"
    if link.used_at is not None:
        return "used"
    if link.expires_at is not None and link.expires_at <= now:
        return "expired"
    return "open"


def create_link(ctx: AppContext, *, actor: Actor, scopes: Sequence[str], optional_scopes: Sequence[str] = (),
                account_id: int | None = None, purpose: str = "install",
                ttl: timedelta | None = None) -> SendableLink:
    """A new sendable link; its URL is shown once (only the hash is stored)."""
    if account_id is not None:
        check_hub_id(account_id, what="the account id")  # before the audit row that names it
    require(ctx.engine, actor, "install", action="link.create", hub_id=account_id)
    scope_set = ScopeSet.from_lists(required=scopes, optional=optional_scopes)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + (ttl or timedelta(days=ctx.settings.dashboard_link_ttl_days))
    link = InstallLink(link_hash=hash_link(token), purpose=purpose,
                       required_scopes=" ".join(scope_set.scope_param()),
                       optional_scopes=" ".join(scope_set.optional_param()), account_id=account_id,
                       created_by=actor.name, created_at=now, expires_at=expires)
    with ctx.session() as session:
        repository.add_install_link(session=session, link=link)
        session.flush()
        audit.record(session, actor=actor.name, action="link.create", outcome="success", hub_id=account_id,
                     detail=f"link={link.id}; purpose={purpose}; scopes={link.required_scopes}; "
                            f"optional={link.optional_scopes or '-'}; expires={expires.isoformat(timespec='minutes')}")
        session.commit()
        assert link.id is not None
        return SendableLink(url=dashboard_base_url(ctx) + CONNECT_PATH + token, link_id=link.id,
                            expires_at=expires)


def create_reconsent_link(ctx: AppContext, *, actor: Actor, hub_id: int) -> SendableLink:
    """A link pinned to the portal's account, asking again for the scopes it was installed with."""
    check_hub_id(hub_id)
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hub_id)
    if portal is None:
        raise NotFoundError(f"no connection for hub {hub_id}")
    required = portal.requested_scopes.split() or portal.granted_scopes.split() or ["oauth"]
    return create_link(ctx, actor=actor, scopes=required, optional_scopes=portal.requested_optional_scopes.split(),
                       account_id=hub_id, purpose="reconsent")


def list_links(ctx: AppContext, *, actor: Actor, limit: int = 200) -> list[LinkPublic]:
    require(ctx.engine, actor, "view", action="link.list")
    now = utcnow()
    with ctx.session() as session:
        rows = repository.list_install_links(session=session, limit=limit)
    return [LinkPublic(link_id=r.id or 0, purpose=r.purpose, created_by=r.created_by, created_at=r.created_at,
                       expires_at=r.expires_at, account_id=r.account_id, scopes=r.required_scopes,
                       optional_scopes=r.optional_scopes, status=link_status(r, now), used_at=r.used_at,
                       used_hub_id=r.used_hub_id) for r in rows]


def revoke_link(ctx: AppContext, *, actor: Actor, link_id: int) -> None:
    require(ctx.engine, actor, "install", action="link.revoke")
    with ctx.session() as session:
        done = repository.revoke_install_link(session=session, link_id=link_id, now=utcnow(), by=actor.name)
        if not done:
            session.rollback()
            found = repository.get_install_link(session=session, link_id=link_id)
            if found is None:
                raise NotFoundError(f"no link {link_id}")
            raise InputError(f"link {link_id} is already {link_status(found, utcnow())}; nothing to revoke")
        audit.record(session, actor=actor.name, action="link.revoke", outcome="success", detail=f"link={link_id}")
        session.commit()


_REFUSALS = {
    "used": ("link_used", "This link was already used to connect an account. Ask the sender for a new link."),
    "revoked": ("link_revoked", "This link was withdrawn by its sender. Ask them for a new link."),
    "expired": ("link_expired", "This link has expired. Ask the sender for a new link."),
}


def open_link(ctx: AppContext, *, token: str) -> str:
    """The authorization URL for a fresh state, or :class:`StateError` for a link that cannot be used.

    Called for anyone holding the link (the customer); the state is created in the name of the link's
    creator. Nothing is sent to HubSpot here: the browser is redirected.

    Anyone can open a link any number of times without signing in, so what an opening writes is bounded:
    a link has at most :data:`LIVE_STATES` unused, unexpired states at a time (more openings get a "wait a
    few minutes" answer and write nothing); openings are audited once a minute per link with a count
    (``link.open``, "opened N times"); an unknown link writes nothing (it is logged, with the id redacted).
    """
    link = None
    if 0 < len(token) <= MAX_TOKEN:
        with ctx.session() as session:
            link = repository.get_install_link(session=session, link_hash=hash_link(token))
    if link is None or link.id is None:
        log.warning("a browser opened an unknown link")
        raise StateError("This link is not valid. Check that it was copied completely, or ask the sender for a "
                         "new link.", code="link_unknown")
    now = utcnow()
    status = link_status(link, now)
    if status != "open":
        code, message = _REFUSALS[status]
        _note_open(ctx, link, "rejected", status)
        raise StateError(message, code=code)
    with ctx.session() as session:
        live = repository.count_live_link_states(session=session, link_id=link.id, now=now)
    if live >= LIVE_STATES:
        _note_open(ctx, link, "rejected", f"busy ({live} open states)")
        raise StateError("This link was opened many times in the last few minutes. Continue on the HubSpot page "
                         "it already opened, or wait ten minutes and open the link again.", code="link_busy")
    scope_set = ScopeSet.from_lists(required=link.required_scopes.split(), optional=link.optional_scopes.split())
    url = install.new_state(ctx, creator=link.created_by, scope_set=scope_set, account_id=link.account_id,
                            link_id=link.id)
    _note_open(ctx, link, "success", "open")
    return url


def _note_open(ctx: AppContext, link: InstallLink, outcome: str, status: str) -> None:
    """Count the opening; once a minute per link, an audit event with the count since the previous one."""
    assert link.id is not None
    with ctx.session() as session:
        opens = repository.count_link_open(session=session, link_id=link.id, now=utcnow(), every=AUDIT_EVERY)
        if opens is not None:
            audit.record(session, actor=link.created_by, action="link.open", outcome=outcome, hub_id=link.account_id,
                         detail=f"link={link.id} {status}; opened {opens} time{'' if opens == 1 else 's'} since "
                                "the previous event")
        session.commit()
