"""What callers present: service API keys for the token API, and the sign-out epoch a sign-in must be newer
than.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlmodel import Session, col

from dashboard.models import ApiKey, UserSignOut
from dashboard.repository._common import _rowcount, _write

# --- API keys ------------------------------------------------------------------------------------------

def add_api_key(*, session: Session, key: ApiKey) -> None:
    session.add(key)


def get_api_key(*, session: Session, prefix: str) -> ApiKey | None:
    stmt = select(ApiKey).where(col(ApiKey.prefix) == prefix)
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().first()


def list_api_keys(*, session: Session) -> list[ApiKey]:
    return list(session.execute(select(ApiKey).order_by(col(ApiKey.created_at), col(ApiKey.id))).scalars())


def revoke_api_key(*, session: Session, prefix: str, now: datetime) -> bool:
    stmt = update(ApiKey).where(col(ApiKey.prefix) == prefix, col(ApiKey.revoked_at).is_(None)).values(revoked_at=now)
    return _write(session, stmt) == 1


def touch_api_key(*, session: Session, prefix: str, now: datetime, not_since: datetime) -> bool:
    """Set ``last_used_at`` unless it is already later than ``not_since`` (one write per key and minute)."""
    stmt = update(ApiKey).where(col(ApiKey.prefix) == prefix,
                                or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < not_since)
                                ).values(last_used_at=now)
    return _write(session, stmt) == 1


# --- sign-out epochs -----------------------------------------------------------------------------------

def get_sign_out(*, session: Session, email: str) -> UserSignOut | None:
    return session.get(UserSignOut, email, populate_existing=True)


def bump_sign_out(*, session: Session, email: str, now: datetime) -> None:
    """Start a new session epoch for ``email``: cookies issued before ``now`` stop working."""
    stmt = (update(UserSignOut).where(col(UserSignOut.email) == email)
            .values(epoch=UserSignOut.epoch + 1, signed_out_at=now))
    if _rowcount(session.execute(stmt)) == 0:
        session.add(UserSignOut(email=email, epoch=1, signed_out_at=now))
