"""HTTP for the test OpenID provider (protocol in ``protocol.py``): discovery, JWKS, authorize, token, userinfo,
and the ``/_oidc/`` controls (``users``, ``clock``, ``reset``).

The issuer is the URL the request came in on (``http://127.0.0.1:<port>``), so discovery and ID tokens agree
for any client that uses one host. These routes are never slowed or faulted (``conditions.py``).
"""

from __future__ import annotations

import time
from functools import cached_property

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboard.sandbox.authorize import first_values
from dashboard.sandbox.bodies import form_fields, json_object
from dashboard.sandbox.errors import AuthorizeError

from .keys import SigningKey
from .page import error_page, sign_in_page
from .protocol import (
    OidcConfig,
    OidcError,
    OidcRedirect,
    OidcRequest,
    OidcState,
    OidcUser,
    authenticate,
    client_credentials,
    deny,
    discovery,
    exchange,
    parse_authorize,
    sign_in,
    userinfo,
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_USERS = 1000


class ProviderState:
    """The provider's memory and its clock (``/_oidc/clock`` moves it, so tests expire codes and tokens)."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self.clock_offset = 0.0
        self.oidc = OidcState(config)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def reset(self) -> None:
        """Forget codes and tokens, restore the configured users and the real clock."""
        self.clock_offset = 0.0
        self.oidc = OidcState(self.config)


class OidcEndpoints:
    """Handlers bound to one provider's state; the signing key is made on first use and kept for the server's
    life (``/_oidc/reset`` forgets codes and tokens, not the key, so clients' cached JWKS stay valid)."""

    def __init__(self, state: ProviderState) -> None:
        self.state = state

    @cached_property
    def key(self) -> SigningKey:
        return SigningKey.generate()

    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/openid-configuration", self.metadata, methods=["GET"]),
            Route("/oidc/jwks", self.jwks, methods=["GET"]),
            Route("/oidc/authorize", self.show, methods=["GET"]),
            Route("/oidc/authorize", self.submit, methods=["POST"]),
            Route("/oidc/token", self.token, methods=["POST"]),
            Route("/oidc/userinfo", self.userinfo, methods=["GET", "POST"]),
            Route("/_oidc/users", self.get_users, methods=["GET"]),
            Route("/_oidc/users", self.set_users, methods=["POST"]),
            Route("/_oidc/clock", self.clock, methods=["POST"]),
            Route("/_oidc/reset", self.reset, methods=["POST"]),
        ]

    @staticmethod
    def _issuer(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @staticmethod
    def _failure(error: OidcError) -> JSONResponse:
        headers = dict(NO_STORE)
        if error.status == 401:
            scheme = "Bearer" if error.error == "invalid_token" else "Basic"
            headers["WWW-Authenticate"] = f'{scheme} realm="test-oidc", error="{error.error}"'
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

    async def metadata(self, request: Request) -> Response:
        return JSONResponse(discovery(self._issuer(request)))

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.jwk()]})

    def _parse(self, request: Request) -> OidcRequest:
        return parse_authorize(self.state.oidc.config, first_values(request.query_params.multi_items()))

    def _page(self, request: Request, *, error: str = "", email: str = "", status: int = 200) -> HTMLResponse:
        oidc = self.state.oidc
        action = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        page = sign_in_page(client_id=oidc.config.client_id, users=oidc.users, action_url=action, error=error,
                            email=email)
        return HTMLResponse(page, status_code=status, headers=NO_STORE)

    async def show(self, request: Request) -> Response:
        """Validate the authorize request and show the sign-in page (errors: our page, or the client's URI)."""
        try:
            self._parse(request)
        except AuthorizeError as exc:
            return HTMLResponse(error_page(code=exc.code, message=exc.message), status_code=exc.http_status,
                                headers=NO_STORE)
        except OidcRedirect as redirect:
            return RedirectResponse(redirect.url, status_code=302, headers=NO_STORE)
        return self._page(request)

    async def submit(self, request: Request) -> Response:
        """The sign-in form (the page posts back to the same URL, so the request is re-validated)."""
        fields = await form_fields(request)
        try:
            parsed = self._parse(request)
            if fields.get("decision") == "cancel":
                target = deny(parsed)
            else:
                email = fields.get("user") or fields.get("email", "")
                target = sign_in(self.state.oidc, parsed, email, now=self.state.now())
        except AuthorizeError as exc:
            return HTMLResponse(error_page(code=exc.code, message=exc.message), status_code=exc.http_status,
                                headers=NO_STORE)
        except OidcRedirect as redirect:
            target = redirect.url
        except ValueError as exc:  # not a sign-in user: show the page again
            return self._page(request, error=str(exc), email=fields.get("email", ""), status=400)
        return RedirectResponse(target, status_code=302, headers=NO_STORE)

    async def token(self, request: Request) -> Response:
        fields = await form_fields(request)
        try:
            client_id, secret, _ = client_credentials(request.headers.get("authorization"), fields)
            authenticate(self.state.oidc.config, client_id, secret)
            body = exchange(self.state.oidc, self.key, fields, client_id=client_id, issuer=self._issuer(request),
                            now=self.state.now())
        except OidcError as error:
            return self._failure(error)
        return JSONResponse(body, headers=NO_STORE)

    async def userinfo(self, request: Request) -> Response:
        try:
            claims = userinfo(self.state.oidc, request.headers.get("authorization"), now=self.state.now())
        except OidcError as error:
            return self._failure(error)
        return JSONResponse(claims, headers=NO_STORE)

    async def get_users(self, request: Request) -> Response:
        return JSONResponse({"users": [u.to_json() for u in self.state.oidc.users]})

    async def set_users(self, request: Request) -> Response:
        """``{"users": ["a@example.com", {"email": ..., "name": ...}, ...]}`` replaces who may sign in."""
        try:
            data = await json_object(request)
            raw = data.get("users")
            if not isinstance(raw, list) or len(raw) > MAX_USERS:
                raise ValueError(f"'users' must be a list of at most {MAX_USERS} emails or objects")
            users = [OidcUser.from_json(item) for item in raw]
        except ValueError as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)
        self.state.oidc.users = list({u.email.lower(): u for u in users}.values())
        return await self.get_users(request)

    async def clock(self, request: Request) -> Response:
        """``{"advance": seconds}`` moves the provider's clock forward."""
        try:
            advance = (await json_object(request)).get("advance")
            if isinstance(advance, bool) or not isinstance(advance, int | float) or advance < 0:
                raise ValueError("'advance' must be a number of seconds, not negative")
        except ValueError as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)
        self.state.clock_offset += float(advance)
        return JSONResponse({"clock_offset": self.state.clock_offset})

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse({})
