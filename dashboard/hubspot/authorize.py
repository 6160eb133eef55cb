"""HubSpot's authorization (install) URL: build it, and read one back. Pure functions, no I/O.

``{app_base_url}/oauth/authorize`` or ``{app_base_url}/oauth/{account_id}/authorize`` with the query
parameters ``client_id, redirect_uri, scope, optional_scope, state`` in that order. Every value is
percent-encoded like ``urllib.parse.quote(value, safe="")``: scope lists are joined with ``%20`` (never
``+``) and the ``:``/``/`` of the redirect URI become ``%3A``/``%2F``, as in HubSpot's own examples and its
Python SDK's ``get_auth_url``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote_plus, urlsplit

from dashboard.errors import InputError, ScopeError
from dashboard.hubspot.hub_ids import parse_hub_id
from dashboard.scopes.catalog import shown as _shown
from dashboard.scopes.catalog import validate_scope_name

PARAM_ORDER: Final = ("client_id", "redirect_uri", "scope", "optional_scope", "state")
_PATH_RE: Final = re.compile(r"(?P<prefix>.*)/oauth(?:/(?P<account>[1-9][0-9]*))?/authorize")
# Space, controls and DEL: a URL holding one was mangled by a copy-paste, and would be mangled again by us.
_UNSAFE_URL_CHARS: Final = re.compile(r"[\x00-\x20\x7f]")


def parse_account_id(text: str) -> int | None:
    """A typed account (hub) id: None when blank, else a positive whole number or :class:`InputError`."""
    if not text.strip():
        return None
    return parse_hub_id(text, what="the account id")


def _check_http_url(value: object, what: str, *, allow_query: bool, echo: bool = True) -> str:
    """``value`` if it is an absolute http(s) URL with a host, else :class:`InputError` naming ``what``.

    ``echo=False`` keeps the value out of the message: a whole authorize URL carries the OAuth state.
    """
    if not isinstance(value, str) or not value:
        raise InputError(f"The {what} must be a non-empty URL, got {type(value).__name__}.")
    label = f"The {what} {_shown(value)}" if echo else f"The {what}"
    if _UNSAFE_URL_CHARS.search(value):
        raise InputError(f"{label} contains spaces or control characters.")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # e.g. an unbalanced '[' in the host
        raise InputError(f"{label} is not a URL.") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{label} must be an absolute http(s) URL.")
    if not allow_query and (parts.query or parts.fragment or "?" in value or "#" in value):
        raise InputError(f"{label} must not have a query or fragment.")
    if not allow_query and _PATH_RE.fullmatch(parts.path.rstrip("/")):
        raise InputError(f"{label} already ends in /oauth/.../authorize; pass the host part only, "
                         "like https://app.hubspot.com.")
    return value


def _scope_names(names: Sequence[str], what: str) -> tuple[str, ...]:
    """The validated names as a tuple."""
    if isinstance(names, str):  # a str is a Sequence[str]: "oauth" would become five one-letter scopes
        raise ScopeError(f"The {what} must be a list of scope names, not the text {_shown(names)}.")
    return tuple(validate_scope_name(name) for name in names)


@dataclass(frozen=True)
class AuthorizeRequest:
    """The inputs of one authorize URL, validated on construction; ``url()`` builds it.

    ``app_base_url`` is kept without a trailing slash and with a lower-case scheme, so
    ``parse_authorize_url(request.url()) == request`` always holds.
    """

    app_base_url: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    optional_scopes: tuple[str, ...] = ()
    state: str | None = None
    account_id: int | None = None

    def __post_init__(self) -> None:
        base = _check_http_url(self.app_base_url, "app base URL", allow_query=False).rstrip("/")
        scheme, rest = base.split(":", 1)
        # Normalized once here (frozen, hence object.__setattr__): a parsed URL then equals its inputs.
        object.__setattr__(self, "app_base_url", scheme.lower() + ":" + rest)
        client_id = self.client_id
        if not isinstance(client_id, str) or not client_id or _UNSAFE_URL_CHARS.search(client_id):
            raise InputError(f"The client id must be non-empty text without spaces, got {_shown(client_id)}.")
        _check_http_url(self.redirect_uri, "redirect URI", allow_query=True)
        object.__setattr__(self, "scopes", _scope_names(self.scopes, "scopes"))
        object.__setattr__(self, "optional_scopes", _scope_names(self.optional_scopes, "optional scopes"))
        if not self.scopes:
            raise ScopeError("The scope parameter needs at least one scope; HubSpot refuses an empty one.")
        if self.state is not None and not (isinstance(self.state, str) and _is_utf8(self.state)):
            raise InputError("The state must be text that can be encoded as UTF-8.")
        account_id = self.account_id
        if account_id is not None and (
            isinstance(account_id, bool) or not isinstance(account_id, int) or account_id <= 0
        ):
            raise InputError(f"The account id must be a positive whole number, got {_shown(account_id)}.")

    def parts(self) -> list[tuple[str, str]]:
        """Each query parameter with its decoded value, in URL order (for a table in the UI)."""
        pairs = [("client_id", self.client_id), ("redirect_uri", self.redirect_uri),
                 ("scope", " ".join(self.scopes))]
        if self.optional_scopes:
            pairs.append(("optional_scope", " ".join(self.optional_scopes)))
        if self.state is not None:
            pairs.append(("state", self.state))
        return pairs

    def url(self) -> str:
        """The encoded authorize URL."""
        path = "/oauth/authorize" if self.account_id is None else f"/oauth/{self.account_id}/authorize"
        query = "&".join(f"{name}={quote(value, safe='')}" for name, value in self.parts())
        return f"{self.app_base_url}{path}?{query}"


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from a mis-decoded byte string
        return False
    return True


def build_authorize_url(
    *, app_base_url: str, client_id: str, redirect_uri: str, scopes: Sequence[str],
    optional_scopes: Sequence[str] = (), state: str | None = None, account_id: int | None = None,
) -> str:
    """Build HubSpot's authorize URL; ``account_id`` pins the install to one account.

    ``optional_scope`` is left out when empty and ``state`` when None. Raises :class:`ScopeError` for a
    malformed or empty scope list and :class:`InputError` for any other bad input.
    """
    return AuthorizeRequest(
        app_base_url=app_base_url, client_id=client_id, redirect_uri=redirect_uri,
        scopes=_scope_names(scopes, "scopes"),
        optional_scopes=_scope_names(optional_scopes, "optional scopes"),
        state=state, account_id=account_id,
    ).url()


def _decode(raw: str) -> str:
    # unquote_plus: we never write a raw '+', so one in a pasted URL is a form-encoded space.
    try:
        return unquote_plus(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise InputError("The authorize URL has a parameter that is not valid UTF-8.") from exc


def parse_authorize_url(url: str) -> AuthorizeRequest:
    """Read an authorize URL back into its inputs; the exact inverse of :func:`build_authorize_url`.

    Raises :class:`InputError` when ``url`` is not an authorize URL (wrong path, unknown, repeated or missing
    parameters) and :class:`ScopeError` when a scope in it is malformed.
    """
    _check_http_url(url, "authorize URL", allow_query=True, echo=False)
    parts = urlsplit(url)
    match = _PATH_RE.fullmatch(parts.path)
    if match is None:
        raise InputError(f"Not an authorize URL: the path {_shown(parts.path)} does not end in "
                         "/oauth/authorize or /oauth/<account id>/authorize.")
    if parts.fragment:
        raise InputError("Not an authorize URL: it has a #fragment.")
    params: dict[str, str] = {}
    for piece in filter(None, parts.query.split("&")):
        raw_name, _, raw_value = piece.partition("=")
        name = _decode(raw_name)
        if name not in PARAM_ORDER:
            raise InputError(f"The authorize URL has an unknown parameter {_shown(name, 40)}.")
        if name in params:
            raise InputError(f"The authorize URL repeats the {name} parameter.")
        params[name] = _decode(raw_value)
    missing = [name for name in PARAM_ORDER[:3] if name not in params]
    if missing:
        raise InputError(f"The authorize URL lacks the {', '.join(missing)} parameter(s).")
    return AuthorizeRequest(
        app_base_url=f"{parts.scheme}://{parts.netloc}{match['prefix']}",
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        scopes=tuple(params["scope"].split()),
        optional_scopes=tuple(params.get("optional_scope", "").split()),
        state=params.get("state"),
        account_id=int(match["account"]) if match["account"] else None,
    )


def authorize_url_parts(url: str) -> list[tuple[str, str]]:
    """Each parameter of an authorize URL with its decoded value, in URL order. Same errors as parsing."""
    return parse_authorize_url(url).parts()
