"""The install flow's rows: OAuth install attempts (``state``), pending installs, sendable install links."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session, col

from dashboard.models import InstallAttempt, InstallLink, PendingInstall
from dashboard.repository._common import _rowcount, _write, session_app

# --- install attempts ----------------------------------------------------------------------------------

def add_install_attempt(*, session: Session, attempt: InstallAttempt) -> None:
    attempt.app = session_app(session)
    session.add(attempt)


def get_install_attempt(*, session: Session, state_hash: str) -> InstallAttempt | None:
    # A state made for another app's install is not this app's to finish.
    stmt = select(InstallAttempt).where(col(InstallAttempt.state_hash) == state_hash,
                                        col(InstallAttempt.app) == session_app(session))
    return session.execute(stmt).scalars().first()


def install_attempt_app(*, session: Session, state_hash: str) -> str | None:
    """The app a ``state`` was made for, whichever app's session asks: one callback URL serves every app."""
    stmt = select(col(InstallAttempt.app)).where(col(InstallAttempt.state_hash) == state_hash)
    return session.execute(stmt).scalars().first()


def consume_install_attempt(*, session: Session, attempt_id: int, now: datetime) -> bool:
    """Mark the attempt used; False when another request used or it expired first (single use)."""
    stmt = (
        update(InstallAttempt)
        .where(
            col(InstallAttempt.id) == attempt_id,
            col(InstallAttempt.consumed_at).is_(None),
            col(InstallAttempt.expires_at) > now,
        )
        .values(consumed_at=now)
    )
    return _rowcount(session.execute(stmt)) == 1


def count_live_link_states(*, session: Session, link_id: int, now: datetime) -> int:
    """States made from ``link_id`` that are neither used nor expired."""
    stmt = select(func.count()).select_from(InstallAttempt).where(
        col(InstallAttempt.link_id) == link_id, col(InstallAttempt.consumed_at).is_(None),
        col(InstallAttempt.expires_at) > now)
    return int(session.execute(stmt).scalar_one())


def purge_install_attempts(*, session: Session, before: datetime) -> int:
    stmt = delete(InstallAttempt).where(col(InstallAttempt.expires_at) < before)
    return _rowcount(session.execute(stmt))


# --- pending installs ------------------------------------------------------------------------------------

def add_pending_install(*, session: Session, record: PendingInstall) -> None:
    record.app = session_app(session)
    session.add(record)


def get_pending_install(*, session: Session, pending_id: int) -> PendingInstall | None:
    record = session.get(PendingInstall, pending_id, populate_existing=True)
    return record if record is not None and record.app == session_app(session) else None


def list_pending_installs(*, session: Session) -> list[PendingInstall]:
    stmt = select(PendingInstall).where(col(PendingInstall.app) == session_app(session)).order_by(
        col(PendingInstall.id))
    return list(session.execute(stmt.execution_options(populate_existing=True)).scalars())


def note_pending_failure(*, session: Session, pending_id: int, error: str, now: datetime) -> None:
    _write(session, update(PendingInstall).where(col(PendingInstall.id) == pending_id).values(
        attempts=PendingInstall.attempts + 1, last_error=error, updated_at=now))


def delete_pending_install(*, session: Session, pending_id: int) -> bool:
    """Remove a finished pending install; False when another process finished it first."""
    return _rowcount(session.connection().execute(
        delete(PendingInstall).where(col(PendingInstall.id) == pending_id))) == 1


# --- sendable install links ----------------------------------------------------------------------------

def add_install_link(*, session: Session, link: InstallLink) -> None:
    link.app = session_app(session)
    session.add(link)


def get_install_link(*, session: Session, link_id: int | None = None, link_hash: str | None = None,
                     ) -> InstallLink | None:
    stmt = select(InstallLink).where(col(InstallLink.id) == link_id if link_id is not None
                                     else col(InstallLink.link_hash) == link_hash,
                                     col(InstallLink.app) == session_app(session))
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().first()


def list_install_links(*, session: Session, limit: int = 200) -> list[InstallLink]:
    stmt = (select(InstallLink).where(col(InstallLink.app) == session_app(session))
            .order_by(col(InstallLink.created_at).desc(), col(InstallLink.id).desc()).limit(limit))
    return list(session.execute(stmt).scalars())


def claim_install_link(*, session: Session, link_id: int, now: datetime) -> bool:
    """Mark the link used for the install under way; False when it was used, revoked or expired first."""
    stmt = (update(InstallLink)
            .where(col(InstallLink.id) == link_id, col(InstallLink.used_at).is_(None),
                   col(InstallLink.revoked_at).is_(None), col(InstallLink.expires_at) > now)
            .values(used_at=now))
    return _rowcount(session.execute(stmt)) == 1


def finish_install_link(*, session: Session, link_id: int, hub_id: int | None) -> None:
    """After the code exchange: record the portal (``hub_id``), or give the link back (None: it failed)."""
    values: dict[str, Any] = {"used_hub_id": hub_id} if hub_id is not None else {"used_at": None}
    session.execute(update(InstallLink).where(col(InstallLink.id) == link_id).values(**values))


def revoke_install_link(*, session: Session, link_id: int, now: datetime, by: str) -> bool:
    stmt = (update(InstallLink)
            .where(col(InstallLink.id) == link_id, col(InstallLink.revoked_at).is_(None),
                   col(InstallLink.used_at).is_(None), col(InstallLink.expires_at) > now)
            .values(revoked_at=now, revoked_by=by))
    return _rowcount(session.execute(stmt)) == 1


def count_link_open(*, session: Session, link_id: int, now: datetime, every: timedelta) -> int | None:
    """Count one opening of the link. None when its last audit event is younger than ``every`` (the open is
    only counted); else the opens to report now (those since the last event, this one included), and the
    counter starts again. Conditional updates: concurrent openers never both report the same opens."""
    since = now - every
    counted = (update(InstallLink)
               .where(col(InstallLink.id) == link_id, col(InstallLink.open_audited_at) > since)
               .values(opens_unaudited=col(InstallLink.opens_unaudited) + 1))
    if _rowcount(session.execute(counted)) == 1:
        return None
    pending = session.execute(select(col(InstallLink.opens_unaudited))
                              .where(col(InstallLink.id) == link_id)).scalar_one_or_none()
    if pending is None:
        return None
    due = (update(InstallLink)
           .where(col(InstallLink.id) == link_id, col(InstallLink.opens_unaudited) == pending,
                  or_(col(InstallLink.open_audited_at).is_(None), col(InstallLink.open_audited_at) <= since))
           .values(opens_unaudited=0, open_audited_at=now))
    if _rowcount(session.execute(due)) == 1:
        return int(pending) + 1
    session.execute(counted)  # another opener reported first: this one waits for the next event
    return None
