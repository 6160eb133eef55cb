"""Sign-out that signs out: a server-side session epoch per signed-in user.

Streamlit's sign-in cookie is signed and lives 30 days; "Sign out" deletes it from the browser that
clicked, but a copy (another browser, a stolen cookie file) would keep working. So "Sign out" also
starts a new epoch for the user here, and every page refuses a sign-in issued before the latest
sign-out (the ID token's ``iat``, which Streamlit keeps in ``st.user``). Signing in again issues a new
token, so the user's own next sign-in works.
"""

from __future__ import annotations

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.models import utcnow
from dashboard.security import audit


def sign_out(ctx: AppContext, *, actor: Actor) -> None:
    """End every sign-in of ``actor`` issued until now (and audit it)."""
    with ctx.session() as session:
        repository.bump_sign_out(session=session, email=actor.name.lower(), now=utcnow())
        audit.record(session, actor=actor.name, action="auth.sign_out", outcome="success",
                     detail="sign-ins issued before now are refused")
        session.commit()


def sign_in_current(ctx: AppContext, *, email: str, issued_at: object) -> bool:
    """False when ``email`` signed out after this sign-in was issued (``issued_at``: the token's ``iat``).

    A user who never signed out is current. One who did is current only with a numeric ``iat`` from the
    same second as the sign-out or later; no ``iat`` at all is refused (we cannot tell its age).
    """
    with ctx.session() as session:
        record = repository.get_sign_out(session=session, email=email.lower())
    if record is None or record.signed_out_at is None:
        return True
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float | str):
        return False
    try:
        iat = float(issued_at)
    except ValueError:
        return False
    return iat >= int(record.signed_out_at.timestamp())
