"""What the repository's modules share: the session's app, row counts of Core writes, and the tables and
columns read by more than one module.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col

from dashboard.models import DEFAULT_APP, Portal, PortalScope

# Columns a listing may read: never the ciphertexts, so listing 10,000 portals decrypts nothing.
LISTING_COLUMNS = tuple(col(c) for c in (
    Portal.hub_id, Portal.hub_domain, Portal.app_id, Portal.installed_by, Portal.user_id,
    Portal.requested_scopes, Portal.requested_optional_scopes, Portal.granted_scopes, Portal.status,
    Portal.expires_at, Portal.last_refresh_at, Portal.last_refresh_result, Portal.last_error,
    Portal.consecutive_failures, Portal.next_attempt_at, Portal.installed_at, Portal.revoked_at,
    Portal.token_fingerprint, Portal.key_id, Portal.updated_at,
))


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def _write(session: Session, stmt: Any) -> int:
    """Run a conditional UPDATE as Core; its row count. Our sessions hold no objects to synchronize, and the
    ORM's synchronization costs a refresh more than the statement itself (the refresh sweep benchmark)."""
    return _rowcount(session.connection().execute(stmt))


# A connection is (app, hub_id). The app is the session's (``session.info["app"]``, set by
# AppContext.session from DASHBOARD_APP_ID), so callers keep passing a hub id: one app is configured per
# process, and a second app is configuration, not new signatures.

def session_app(session: Session) -> str:
    """The app this session's hub ids belong to (the default app for sessions made without one)."""
    return str(session.info.get("app", DEFAULT_APP))


def app_terms(session: Session) -> list[ColumnElement[bool]]:
    """WHERE terms that keep a scan of the portal table to the session's app.

    None while every portal row belongs to that app (a single-app database, the common case): the listing's
    indexes then answer counts and pages without reading each row's app (the app is not in those indexes).
    Whether other apps' rows exist is one probe of the primary key (app first), asked once per session."""
    app = session_app(session)
    found = session.info.get("app_terms")
    if found is None:
        other = select(col(Portal.hub_id)).where(or_(col(Portal.app) < app, col(Portal.app) > app)).limit(1)
        found = session.info["app_terms"] = session.connection().execute(other).first() is not None
    return [col(Portal.app) == app] if found else []


_SCOPES = PortalScope.metadata.tables["portal_scope"]
