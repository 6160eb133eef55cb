"""A minimal OpenID Connect provider, so the dashboard's sign-in (``st.login``) runs end to end offline.

Test and demo tooling, not part of the product (``python -m devtools.oidc``; the tests start it too).

Authorization code flow only, as Streamlit's Authlib client uses it: discovery, an authorize page listing
the sign-in users, a token endpoint (``client_secret_basic`` or ``client_secret_post``; PKCE S256 when the
authorize request carried a challenge; single-use codes bound to client and redirect URI), RS256 ID tokens
with the request's ``nonce``, and userinfo. The protocol is pure functions over :class:`OidcState`;
``routes.py`` does the HTTP. Not HubSpot: this plays the team's identity provider (Google, Entra, ...).

Errors: :class:`~dashboard.sandbox.errors.AuthorizeError` (the sandbox's) for a request the provider must
not redirect (unknown client,
unregistered redirect URI), shown on its own page; :class:`OidcError` for everything else, redirected to
the client from the authorize endpoint or answered as ``{"error", "error_description"}`` by the others.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlencode

from dashboard.sandbox.errors import AuthorizeError

from .keys import SigningKey, b64url, half_hash

OIDC_CLIENT_ID = "dashboard"
OIDC_CLIENT_SECRET = "sandbox-oidc-secret"  # noqa: S105 - a published placeholder for the local provider
OIDC_REDIRECT_URI = "http://localhost:8501/oauth2callback"
"""Where ``st.login`` sends the browser back under ``streamlit run`` defaults."""
DEFAULT_OIDC_USERS = ("boss@example.com", "olga@ops.example.com", "ana@example.com", "stranger@elsewhere.org")
SCOPES = ("openid", "email", "profile")
_PKCE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1 / §4.2


@dataclass(frozen=True)
class OidcUser:
    """Someone who can sign in. ``sub`` is derived from the email, so it is stable across restarts."""

    email: str
    name: str = ""

    @classmethod
    def from_json(cls, data: object) -> OidcUser:
        """``"ana@example.com"`` or ``{"email": ..., "name"?: ...}``; ``ValueError`` otherwise."""
        if isinstance(data, str):
            data = {"email": data}
        if not isinstance(data, dict):
            raise ValueError("a user is an email or {\"email\", \"name\"}")
        email, name = data.get("email"), data.get("name", "")
        if not isinstance(email, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+", email.strip()):
            raise ValueError(f"not an email address: {email!r}")
        if not isinstance(name, str):
            raise ValueError("'name' must be a string")
        email = email.strip()
        return cls(email, name.strip() or email.split("@", 1)[0].replace(".", " ").title())

    @property
    def sub(self) -> str:
        return "sandbox-" + hashlib.sha256(self.email.lower().encode("utf-8")).hexdigest()[:20]

    def claims(self, scopes: tuple[str, ...]) -> dict[str, Any]:
        """``sub`` plus the claims the granted scopes release (``email``, ``profile``)."""
        claims: dict[str, Any] = {"sub": self.sub}
        if "email" in scopes:
            claims |= {"email": self.email, "email_verified": True}
        if "profile" in scopes:
            claims["name"] = self.name
        return claims

    def to_json(self) -> dict[str, str]:
        return {"email": self.email, "name": self.name, "sub": self.sub}


def default_users() -> list[OidcUser]:
    return [OidcUser.from_json(email) for email in DEFAULT_OIDC_USERS]


@dataclass
class OidcConfig:
    """The one registered client and who may sign in. ``code_ttl`` may be fractional so tests expire codes."""

    client_id: str = OIDC_CLIENT_ID
    client_secret: str = OIDC_CLIENT_SECRET
    redirect_uris: list[str] = field(default_factory=lambda: [OIDC_REDIRECT_URI])
    users: list[OidcUser] = field(default_factory=default_users)
    token_ttl: int = 3600
    code_ttl: float = 60


class OidcError(Exception):
    """An OAuth 2.0 / OIDC error: ``error`` code, ``description`` (never a secret), HTTP ``status``."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class OidcRedirect(Exception):
    """An authorize-endpoint outcome delivered at the client's redirect URI (an error or a denial)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


@dataclass(frozen=True)
class OidcRequest:
    """A validated authorize request (what a code remembers of it)."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None


@dataclass
class OidcCode:
    code: str
    request: OidcRequest
    user: OidcUser
    auth_time: int
    expires_at: float
    used: bool = False
    access_token: str | None = None


@dataclass
class OidcAccess:
    token: str
    user: OidcUser
    scopes: tuple[str, ...]
    expires_at: float


class OidcState:
    """What the provider remembers; ``/_oidc/reset`` clears it."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self.users: list[OidcUser] = list(config.users)
        self.codes: dict[str, OidcCode] = {}
        self.access_tokens: dict[str, OidcAccess] = {}

    def user(self, email: str) -> OidcUser | None:
        wanted = email.strip().lower()
        return next((u for u in self.users if u.email.lower() == wanted), None)


def discovery(issuer: str) -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery 1.0 §3)."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oidc/authorize",
        "token_endpoint": f"{issuer}/oidc/token",
        "jwks_uri": f"{issuer}/oidc/jwks",
        "userinfo_endpoint": f"{issuer}/oidc/userinfo",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": list(SCOPES),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified",
                             "name"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }


def with_params(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` (``None`` values left out) added to its query."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def parse_authorize(config: OidcConfig, params: dict[str, str]) -> OidcRequest:
    """Validate an authorize request. ``AuthorizeError`` if the client or redirect URI is wrong (never
    redirect there), ``OidcRedirect`` for errors the client should receive at its redirect URI."""
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    if not client_id or not secrets.compare_digest(client_id, config.client_id):
        raise AuthorizeError("unknown_client", "unknown client_id")
    if redirect_uri not in config.redirect_uris:
        raise AuthorizeError("redirect_mismatch", "redirect_uri is not registered for this client")
    state = params.get("state") or None

    def fail(error: str, description: str) -> OidcRedirect:
        return OidcRedirect(with_params(redirect_uri, {"error": error, "error_description": description,
                                                       "state": state}))

    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "only response_type=code is supported")
    scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
    if "openid" not in scopes:
        raise fail("invalid_scope", "scope must include openid")
    if unknown := [s for s in scopes if s not in SCOPES]:
        raise fail("invalid_scope", f"unsupported scope: {' '.join(unknown)}")
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    if challenge is None and method is not None:
        raise fail("invalid_request", "code_challenge_method without code_challenge")
    if challenge is not None and (method != "S256" or not _PKCE.fullmatch(challenge)):
        raise fail("invalid_request", "code_challenge must be S256 (43-128 characters)")
    return OidcRequest(client_id, redirect_uri, scopes, state, params.get("nonce") or None, challenge)


def deny(request: OidcRequest) -> str:
    """The redirect when the user cancels."""
    return with_params(request.redirect_uri, {"error": "access_denied", "error_description": "the user cancelled",
                                              "state": request.state})


def sign_in(oidc: OidcState, request: OidcRequest, email: str, *, now: float) -> str:
    """Issue a code for ``email`` and return the redirect URL; ``ValueError`` if no such user."""
    user = oidc.user(email)
    if user is None:
        raise ValueError(f"no sign-in user {email.strip()!r} at this provider")
    code = "oidc-code-" + secrets.token_urlsafe(24)
    oidc.codes[code] = OidcCode(code, request, user, int(now), now + oidc.config.code_ttl)
    return with_params(request.redirect_uri, {"code": code, "state": request.state})


def client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str, bool]:
    """``(client_id, client_secret, used_basic)`` from ``client_secret_basic`` or ``client_secret_post``."""
    if authorization and authorization[:6].lower() == "basic ":
        if "client_secret" in form:
            raise OidcError("invalid_request", "use one client authentication method, not two")
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except ValueError:
            raise OidcError("invalid_client", "malformed Basic credentials", status=401) from None
        client_id, sep, client_secret = decoded.partition(":")
        if not sep:
            raise OidcError("invalid_client", "malformed Basic credentials", status=401)
        client_id, client_secret = unquote_plus(client_id), unquote_plus(client_secret)
        if form.get("client_id", client_id) != client_id:
            raise OidcError("invalid_client", "client_id differs from the Basic credentials", status=401)
        return client_id, client_secret, True
    return form.get("client_id", ""), form.get("client_secret", ""), False


def authenticate(config: OidcConfig, client_id: str, client_secret: str) -> None:
    ok = secrets.compare_digest(client_id.encode(), config.client_id.encode())
    ok = secrets.compare_digest(client_secret.encode(), config.client_secret.encode()) and ok
    if not ok:
        raise OidcError("invalid_client", "unknown client or wrong client secret", status=401)


def _check_pkce(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:
            raise OidcError("invalid_grant", "code_verifier sent, but the authorize request had no code_challenge")
        return
    if verifier is None or not _PKCE.fullmatch(verifier):
        raise OidcError("invalid_grant", "code_verifier is missing or malformed")
    if not secrets.compare_digest(b64url(hashlib.sha256(verifier.encode("ascii")).digest()), challenge):
        raise OidcError("invalid_grant", "code_verifier does not match the code_challenge")


def exchange(oidc: OidcState, key: SigningKey, form: dict[str, str], *, client_id: str, issuer: str,
             now: float) -> dict[str, Any]:
    """The authorization_code grant for an authenticated ``client_id``: the token response with an ID token.

    A code works once; presenting it again also revokes the access token it gave (RFC 6749 §4.1.2).
    """
    if form.get("grant_type") != "authorization_code":
        raise OidcError("unsupported_grant_type", "only grant_type=authorization_code is supported")
    record = oidc.codes.get(form.get("code", ""))
    if record is None:
        raise OidcError("invalid_grant", "unknown authorization code")
    if record.used:
        if record.access_token is not None:
            oidc.access_tokens.pop(record.access_token, None)
        raise OidcError("invalid_grant", "authorization code already used")
    record.used = True
    if now >= record.expires_at:
        raise OidcError("invalid_grant", "authorization code expired")
    request = record.request
    if request.client_id != client_id:
        raise OidcError("invalid_grant", "authorization code was issued to another client")
    if form.get("redirect_uri") != request.redirect_uri:
        raise OidcError("invalid_grant", "redirect_uri does not match the authorize request")
    _check_pkce(request.code_challenge, form.get("code_verifier"))
    ttl = oidc.config.token_ttl
    access = OidcAccess("oidc-at-" + secrets.token_urlsafe(24), record.user, request.scopes, now + ttl)
    oidc.access_tokens[access.token] = access
    record.access_token = access.token
    claims = {"iss": issuer, "aud": client_id, "iat": int(now), "exp": int(now) + ttl,
              "auth_time": record.auth_time, "at_hash": half_hash(access.token),
              **record.user.claims(request.scopes)}
    if request.nonce is not None:
        claims["nonce"] = request.nonce
    return {"access_token": access.token, "token_type": "Bearer", "expires_in": ttl,
            "scope": " ".join(request.scopes), "id_token": key.sign(claims)}


def userinfo(oidc: OidcState, authorization: str | None, *, now: float) -> dict[str, Any]:
    """The claims for a Bearer access token; ``OidcError`` (401 ``invalid_token``) otherwise."""
    token = authorization[7:].strip() if authorization and authorization[:7].lower() == "bearer " else ""
    access = oidc.access_tokens.get(token)
    if access is None or now >= access.expires_at:
        raise OidcError("invalid_token", "the access token is missing, unknown or expired", status=401)
    return access.user.claims(access.scopes)
