"""Installs: authorization URL with a single-use ``state``, then the callback and an immediate code exchange.

``state`` is 256 random bits, stored only as its SHA-256, valid 10 minutes, consumed atomically. A
callback is checked completely (state present, known, unexpired, unused) before any network call, so a
forged or replayed callback never reaches HubSpot's token endpoint. What is done with the tokens HubSpot
grants (naming their account, writing the portal) is :mod:`dashboard.installs.grants`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from dashboard import repository
from dashboard.actors import OPERATOR, VIEWER, Actor
from dashboard.context import AppContext
from dashboard.errors import (
    AuthorizationDenied,
    ConfigurationError,
    DashboardError,
    InputError,
    InstallError,
    InstallPendingError,
    InvalidGrantError,
    ProtocolError,
    RedirectUriMismatchError,
    StateError,
)
from dashboard.hubspot import protocol
from dashboard.installs import grants
from dashboard.installs import pending as pending_installs
from dashboard.installs.grants import InstallResult as InstallResult  # callers import it from here
from dashboard.models import InstallAttempt, utcnow
from dashboard.scopes.catalog import ScopeSet
from dashboard.security import audit
from dashboard.security.guard import require

STATE_TTL = timedelta(minutes=10)
MAX_PARAM = 2048


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class InstallStart:
    url: str
    expires_in_seconds: int


def start_install(ctx: AppContext, *, actor: Actor, scopes: Sequence[str], optional_scopes: Sequence[str] = (),
                  account_id: int | None = None) -> InstallStart:
    """Create a pending install and return HubSpot's authorization URL for it."""
    require(ctx.engine, actor, "install", action="install.start")
    scope_set = ScopeSet.from_lists(required=scopes, optional=optional_scopes)
    url = new_state(ctx, creator=actor.name, scope_set=scope_set, account_id=account_id)
    return InstallStart(url=url, expires_in_seconds=int(STATE_TTL.total_seconds()))


def new_state(ctx: AppContext, *, creator: str, scope_set: ScopeSet, account_id: int | None,
              link_id: int | None = None) -> str:
    """Store a fresh single-use ``state`` (its hash) for ``creator`` and return the authorization URL.

    Callers check permissions: :func:`start_install` for the signed-in actor, a sendable link for the
    actor who created it.
    """
    state = secrets.token_urlsafe(32)  # 256 bits
    url = ctx.authorize_url(scope_set, state=state, account_id=account_id)
    now = utcnow()
    with ctx.session() as session:
        repository.purge_install_attempts(session=session, before=now - timedelta(days=1))
        repository.add_install_attempt(session=session, attempt=InstallAttempt(
            state_hash=hash_state(state), required_scopes=" ".join(scope_set.scope_param()),
            optional_scopes=" ".join(scope_set.optional_param()), redirect_uri=ctx.app.redirect_uri,
            account_id=account_id, actor=creator, created_at=now, expires_at=now + STATE_TTL, link_id=link_id))
        if link_id is None:  # a link's openings are audited by the link, once a minute with a count
            audit.record(session, actor=creator, action="install.start", outcome="success",
                         detail=f"scopes={' '.join(scope_set.scope_param())}; "
                                f"optional={' '.join(scope_set.optional_param())}; account={account_id or 'any'}")
        session.commit()
    return url


def callback_params(callback_url: str) -> dict[str, str]:
    """Query parameters of a callback URL (what HubSpot redirected the browser to)."""
    parts = urlsplit(callback_url.strip())
    if not parts.query:
        raise InputError("the callback URL has no query string; paste the whole URL HubSpot redirected to")
    return dict(parse_qsl(parts.query, keep_blank_values=True))


def _clean(params: Mapping[str, object], name: str) -> str | None:
    value = params.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    text = str(value)
    if len(text) > MAX_PARAM:
        raise InputError(f"the callback parameter {name} is too long")
    return text


def _audit_fail(ctx: AppContext, actor: Actor, action: str, detail: str, hub_id: int | None = None) -> None:
    with ctx.session() as session:
        audit.record(session, actor=actor.name, action=action, outcome="failure", hub_id=hub_id, detail=detail)
        session.commit()


def _claim_state(ctx: AppContext, actor: Actor, state: str) -> InstallAttempt:
    now = utcnow()
    with ctx.session() as session:
        attempt = repository.get_install_attempt(session=session, state_hash=hash_state(state))
        problem = None
        if attempt is None:
            problem = StateError("this install link is unknown (state not found); start a new install",
                                 code="state_unknown")
        elif attempt.consumed_at is not None:
            problem = StateError("this install link was already used; start a new install", code="state_reused")
        elif attempt.expires_at is not None and attempt.expires_at <= now:
            problem = StateError("this install link expired (10 minutes); start a new install",
                                 code="state_expired")
        elif attempt.id is None or not repository.consume_install_attempt(
                session=session, attempt_id=attempt.id, now=now):
            problem = StateError("this install link was already used; start a new install", code="state_reused")
        if problem is not None:
            session.rollback()
            audit.record(session, actor=actor.name, action="install.callback", outcome="rejected",
                         detail=problem.code)
            session.commit()
            raise problem
        session.commit()
        assert attempt is not None
        return attempt


def finish_install(ctx: AppContext, *, actor: Actor, params: Mapping[str, object]) -> InstallResult:
    """Complete an install from the callback's query parameters (``code``, ``state`` or ``error``)."""
    require(ctx.engine, actor, "install", action="install.finish")
    return _finish(_state_app(ctx, params), actor, params)


def _state_app(ctx: AppContext, params: Mapping[str, object]) -> AppContext:
    """The context of the app the callback's ``state`` was made for: every app's installs come back to the
    same redirect URI, and the code must be exchanged with that app's credentials."""
    state = _clean(params, "state")
    if not state:
        return ctx
    with ctx.session() as session:
        app = repository.install_attempt_app(session=session, state_hash=hash_state(state))
    if app is None or app == ctx.app_id:
        return ctx
    if ctx.apps is None or app not in ctx.apps:
        raise ConfigurationError(f"this install was started for app {app!r}, which is no longer configured; "
                                 "declare it again ([apps.<id>]) or start a new install")
    return ctx.for_app(app)


def finish_install_for_state_holder(ctx: AppContext, *, params: Mapping[str, object]) -> InstallResult:
    """Complete an install for a browser that is not signed in (the customer's HubSpot admin).

    The ``state`` is the authority: it was created by a signed-in operator (or a link one created),
    is single use, short-lived and stored hashed. The install is done and audited in that operator's
    name; without a state (a marketplace install) nothing is done.
    """
    ctx = _state_app(ctx, params)
    state = _clean(params, "state")
    creator = None
    if state:
        with ctx.session() as session:
            attempt = repository.get_install_attempt(session=session, state_hash=hash_state(state))
            creator = attempt.actor if attempt is not None else None
    if creator is None:
        _audit_fail(ctx, Actor("anonymous-browser", VIEWER), "install.callback",
                    "refused: a browser that is not signed in brought no known state")
        raise StateError("this link is not valid (unknown or missing state); ask for a new link",
                         code="state_unknown")
    return _finish(ctx, Actor(creator, OPERATOR), params)


def _finish(ctx: AppContext, actor: Actor, params: Mapping[str, object]) -> InstallResult:
    state, code, error = _clean(params, "state"), _clean(params, "code"), _clean(params, "error")
    if not state:
        if not ctx.settings.dashboard_allow_marketplace_installs:
            _audit_fail(ctx, actor, "install.callback", "refused: no state (marketplace install not allowed)")
            raise StateError(
                "this callback has no state, so it did not come from an install started here; "
                "installs started from HubSpot's marketplace are refused unless "
                "DASHBOARD_ALLOW_MARKETPLACE_INSTALLS is true", code="state_missing")
        attempt = None
    else:
        attempt = _claim_state(ctx, actor, state)
    if error:
        desc = (_clean(params, "error_description") or "no description")[:300]
        _audit_fail(ctx, actor, "install.callback", f"HubSpot returned error={error[:60]}: {desc}")
        raise AuthorizationDenied(f"HubSpot did not grant access ({error[:60]}): {desc}")
    if not code:
        _audit_fail(ctx, actor, "install.callback", "no code in callback")
        raise InputError("the callback has neither code nor error; paste the whole URL HubSpot redirected to")
    link_id = attempt.link_id if attempt is not None else None
    if link_id is not None:
        _claim_link(ctx, actor, link_id)
    try:
        result = _exchange_and_store(ctx, actor, code, attempt)
    except BaseException:
        if link_id is not None:  # the install did not happen: the link still works
            _settle_link(ctx, link_id, None)
        raise
    if link_id is not None:
        _settle_link(ctx, link_id, result.hub_id)
    return result


def _claim_link(ctx: AppContext, actor: Actor, link_id: int) -> None:
    """Single install per link, decided before any request to HubSpot."""
    with ctx.session() as session:
        won = repository.claim_install_link(session=session, link_id=link_id, now=utcnow())
        if not won:
            session.rollback()
            audit.record(session, actor=actor.name, action="install.callback", outcome="rejected",
                         detail=f"link={link_id} already used, revoked or expired")
        session.commit()
    if not won:
        raise StateError("this link was already used, was revoked or has expired; ask for a new link",
                         code="link_used")


def _settle_link(ctx: AppContext, link_id: int, hub_id: int | None) -> None:
    with ctx.session() as session:
        repository.finish_install_link(session=session, link_id=link_id, hub_id=hub_id)
        session.commit()


def _exchange_and_store(ctx: AppContext, actor: Actor, code: str, attempt: InstallAttempt | None) -> InstallResult:
    try:
        tokens = ctx.hubspot.exchange_code(code)
    except RedirectUriMismatchError as exc:
        _audit_fail(ctx, actor, "install.exchange", exc.description)
        raise InstallError(_mismatch_message(ctx.app.redirect_uri, attempt), code="redirect_uri_mismatch") from exc
    except InvalidGrantError as exc:
        _audit_fail(ctx, actor, "install.exchange", exc.description)
        raise InstallError("HubSpot refused the authorization code (expired or already used); "
                           "start the install again", code="bad_auth_code") from exc
    except DashboardError as exc:
        _audit_fail(ctx, actor, "install.exchange", exc.description)
        raise
    if tokens.refresh_token is None:
        raise ProtocolError("HubSpot's code exchange returned no refresh token")
    pinned = attempt.account_id if attempt is not None else None
    if pinned is not None and tokens.hub_id is not None and tokens.hub_id != pinned:
        grants.refuse_other_account(ctx, actor, tokens, pinned=pinned, reported=tokens.hub_id)
    try:
        identity = grants.identify(ctx, tokens)
    except ProtocolError as exc:
        # The code is spent: these tokens are the grant. Keep them rather than lose the install.
        kept = pending_installs.keep(ctx, actor=actor, tokens=tokens, attempt=attempt, error=exc.description)
        with ctx.session() as session:
            audit.record(session, actor=actor.name, action="install.pending", outcome="failure",
                         detail=f"pending install #{kept.id} kept: {exc.description}"[:500])
            session.commit()
        raise _pending_error(kept.id, exc.description) from exc
    if pinned is not None and identity[0] != pinned:
        grants.refuse_other_account(ctx, actor, tokens, pinned=pinned, reported=identity[0])
    return grants.store_tokens(ctx, actor, tokens, attempt, action="install", identity=identity)


def _mismatch_message(sent: str, attempt: InstallAttempt | None) -> str:
    started = attempt.redirect_uri if attempt is not None and attempt.redirect_uri else "unknown"
    return (f"HubSpot refused the code because the redirect URI does not match (a configuration problem, "
            f"not an expired code): this dashboard exchanged it with redirect URI {sent}, but the install "
            f"link was created with redirect URI {started}. Make HUBSPOT_REDIRECT_URI the same everywhere "
            "(and registered in the HubSpot app's Auth settings), then start the install again.")


def _pending_error(pending_id: int, why: str) -> InstallPendingError:
    return InstallPendingError(
        f"HubSpot granted access, but the install could not be finished ({why}). The tokens are kept "
        f"encrypted as pending install #{pending_id}: finish it from the New install or Connections page, "
        f"or with `python -m dashboard install resume {pending_id}`.", pending_id=pending_id)


def finish_pending_install(ctx: AppContext, *, actor: Actor, pending_id: int) -> InstallResult:
    """Retry a pending install: look the account up again and, if it is named now, store the portal."""
    require(ctx.engine, actor, "install", action="install.resume")
    opened = pending_installs.open_pending(ctx, pending_id)
    try:
        identity = grants.identify(ctx, opened.tokens)
    except ProtocolError as exc:
        pending_installs.note_failure(ctx, pending_id, exc.description)
        _audit_fail(ctx, actor, "install.resume", f"pending install #{pending_id}: {exc.description}"[:500])
        raise _pending_error(pending_id, exc.description) from exc
    result = grants.store_tokens(ctx, actor, opened.tokens, opened.attempt, action="install", identity=identity)
    pending_installs.forget(ctx, pending_id)
    return result


def import_tokens(ctx: AppContext, *, actor: Actor, token_response_json: str | bytes) -> InstallResult:
    """Store a token pair obtained elsewhere, given as HubSpot's token response body, as an install would.

    For bringing connections that another system authorized into the vault (and for seeding tests and
    benchmarks from the sandbox's ``/_sandbox/issue``). The response must carry a refresh token and a
    hub id (or an access token that introspection can name the hub from).
    """
    require(ctx.engine, actor, "install", action="install.import")
    raw = token_response_json.encode() if isinstance(token_response_json, str) else token_response_json
    tokens = protocol.parse_token_response(raw)
    if tokens.refresh_token is None:
        raise InputError("the token response to import has no refresh_token")
    return grants.store_tokens(ctx, actor, tokens, None, action="import", identity=grants.identify(ctx, tokens))
