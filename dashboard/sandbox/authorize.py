"""The install flow's decisions, shared by the consent page and ``POST /_sandbox/consent``.

Both paths call :func:`parse_request` then :func:`decide`, so a script installing without a browser gets
exactly the validation and redirect a person clicking "Grant access" would get.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from .config import SandboxAccount
from .errors import AuthorizeError
from .scope_rules import check_against_settings, grant_for_account, split_scopes
from .state import SandboxState
from .tokens import new_code

AUTHORIZE_PATH = re.compile(r"^/oauth/(?:(?P<account>[^/]+)/)?authorize/?$")
DECISIONS = ("grant", "deny")
DENY_DESCRIPTION = "The user declined to grant access to the app."


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated install request: the app-level checks have passed."""

    redirect_uri: str
    scope: tuple[str, ...]
    optional_scope: tuple[str, ...]
    state: str | None
    account: SandboxAccount | None  # set for /oauth/{accountId}/authorize


def parse_authorize_url(url: str) -> tuple[dict[str, str], str | None]:
    """Split an install URL (any host) into its query parameters and the account id in its path."""
    parts = urlsplit(url)
    match = AUTHORIZE_PATH.match(parts.path)
    if match is None:
        raise AuthorizeError(
            "bad_authorize_url", "The URL is not an /oauth/authorize or /oauth/{accountId}/authorize URL."
        )
    return first_values(parse_qsl(parts.query, keep_blank_values=True)), match.group("account")


def first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Query pairs as a dict, keeping the first value of a repeated parameter."""
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key, value)
    return params


def _account(state: SandboxState, raw: str | int) -> SandboxAccount:
    try:
        hub_id = int(raw)
    except (TypeError, ValueError):
        raise AuthorizeError(
            "unknown_account", f"Authorization failed: '{raw}' is not an account ID."
        ) from None
    account = state.accounts.get(hub_id)
    if account is None:
        raise AuthorizeError("unknown_account", f"Authorization failed: there is no account {hub_id}.")
    return account


def parse_request(
    state: SandboxState, params: Mapping[str, str], path_account: str | None
) -> AuthorizeRequest:
    """Validate what HubSpot validates before showing the consent screen; :class:`AuthorizeError` if not."""
    config = state.config
    client_id = params.get("client_id", "")
    if not client_id:
        raise AuthorizeError("missing_client_id", "Authorization failed: the install URL has no client_id.")
    if client_id != config.client_id:
        raise AuthorizeError(
            "bad_client_id", f"Authorization failed: no app has the client ID '{client_id}'."
        )
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        raise AuthorizeError(
            "missing_redirect_uri", "Authorization failed: the install URL has no redirect_uri."
        )
    # Exact string match: HubSpot does not document normalisation, so a trailing slash or port differs.
    if redirect_uri not in config.redirect_uris:
        raise AuthorizeError(
            "redirect_mismatch",
            f"Authorization failed as the redirect URL '{redirect_uri}' doesn't match the app's registered "
            "redirect URL",
        )
    account = None if path_account is None else _account(state, path_account)
    scope = split_scopes(params.get("scope"))
    if not scope:
        raise AuthorizeError("missing_scope", "Authorization failed: the install URL has no scope.")
    optional_scope = split_scopes(params.get("optional_scope"))
    check_against_settings(scope, optional_scope, state.settings.app_scopes)
    if account is not None:
        grant_for_account(scope, optional_scope, account)  # A pinned account's tier is known up front.
    return AuthorizeRequest(redirect_uri, scope, optional_scope, params.get("state"), account)


def choose_account(
    state: SandboxState, request: AuthorizeRequest, account_id: str | int | None
) -> SandboxAccount:
    """The account to install on: the URL's, else the chosen one, else the first configured."""
    if request.account is not None:
        if account_id not in (None, "") and str(account_id) != str(request.account.hub_id):
            raise AuthorizeError(
                "account_mismatch",
                f"Authorization failed: the install URL is for account {request.account.hub_id}.",
            )
        return request.account
    if account_id is not None and account_id != "":
        return _account(state, account_id)
    if not state.accounts:
        raise AuthorizeError("no_accounts", "Authorization failed: the sandbox has no accounts.")
    return next(iter(state.accounts.values()))


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to its query string."""
    separator = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{separator}{urlencode(params)}"


def decide(
    state: SandboxState, request: AuthorizeRequest, account_id: str | int | None, decision: str
) -> str:
    """Apply the user's choice and return the URL HubSpot sends the browser to.

    Deny redirects with ``error=access_denied`` (HubSpot sends nothing to the app; the sandbox does so the
    dashboard's callback error path can be tested). Grant checks the chosen account's tier, stores a code
    and redirects with ``code`` (and ``state`` when the install URL had one).
    """
    if decision not in DECISIONS:
        raise AuthorizeError("bad_decision", "decision must be 'grant' or 'deny'.")
    account = choose_account(state, request, account_id)
    extra = {} if request.state is None else {"state": request.state}
    if decision == "deny":
        state.stats.consent["deny"] += 1
        denied = {"error": "access_denied", "error_description": DENY_DESCRIPTION, **extra}
        return with_query(request.redirect_uri, denied)
    scopes = grant_for_account(request.scope, request.optional_scope, account)
    code = new_code(state, hub_id=account.hub_id, scopes=scopes, redirect_uri=request.redirect_uri)
    state.stats.consent["grant"] += 1
    return with_query(request.redirect_uri, {"code": code.code, **extra})
