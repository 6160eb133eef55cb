"""HubSpot's OAuth JSON endpoints: token (v1, v3, 2026-03), v1 metadata/DELETE, introspect and revoke.

Every error is HTTP 400 with the OAuth error body (see ``errors.py``) and is counted in the stats.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bodies import form_fields
from .errors import OAuthError
from .grants import token_grant
from .metadata import access_info_v1, delete_refresh_v1, introspect, refresh_info_v1, revoke
from .state import SandboxState

TOKEN_VERSIONS = ("v1", "v3", "2026-03")
BODY_VERSIONS = ("v3", "2026-03")  # The versions with introspect and revoke.
# Token responses carry credentials; RFC 6749 §5.1 asks for no-store.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# v1 still accepts these two as query parameters (legacy; SPEC lists them under the v1 token operation).
V1_QUERY_FIELDS = ("client_secret", "refresh_token")


class OAuthEndpoints:
    """Handlers bound to one sandbox's state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """Every OAuth JSON route."""
        routes = [
            Route(f"/oauth/{v}/token", self._token_handler(v), methods=["POST"]) for v in TOKEN_VERSIONS
        ]
        for version in BODY_VERSIONS:
            routes.append(Route(f"/oauth/{version}/token/introspect", self.introspect, methods=["POST"]))
            routes.append(Route(f"/oauth/{version}/token/revoke", self.revoke, methods=["POST"]))
        routes += [
            Route("/oauth/v1/access-tokens/{token}", self.access_info, methods=["GET"]),
            # One route for both methods, so a 405 lists every allowed method in its Allow header.
            Route("/oauth/v1/refresh-tokens/{token}", self.refresh_token_v1, methods=["GET", "DELETE"]),
        ]
        return routes

    def _failure(self, error: OAuthError) -> JSONResponse:
        self.state.stats.errors[error.error] += 1
        return JSONResponse(error.body(), status_code=error.http_status, headers=NO_STORE)

    def _answer(self, produce: Callable[[], dict[str, Any] | None], *, empty_status: int = 200) -> Response:
        """Run one operation; a ``None`` result is an empty success (``{}`` or 204)."""
        try:
            body = produce()
        except OAuthError as error:
            return self._failure(error)
        if body is None:
            if empty_status == 204:
                return Response(status_code=204, headers=NO_STORE)
            return JSONResponse({}, status_code=empty_status, headers=NO_STORE)
        return JSONResponse(body, headers=NO_STORE)

    def _token_handler(self, version: str) -> Callable[[Request], Awaitable[Response]]:
        async def token(request: Request) -> Response:
            fields = await form_fields(request)
            if version == "v1":
                for name in V1_QUERY_FIELDS:
                    if not fields.get(name) and request.query_params.get(name):
                        fields[name] = request.query_params[name]
            return self._answer(lambda: token_grant(self.state, fields, version))

        token.__name__ = f"token_{version.replace('-', '_')}"
        return token

    async def access_info(self, request: Request) -> Response:
        """``GET /oauth/v1/access-tokens/{token}``."""
        self.state.stats.metadata += 1
        return self._answer(lambda: access_info_v1(self.state, request.path_params["token"]))

    async def refresh_token_v1(self, request: Request) -> Response:
        """``GET`` or ``DELETE /oauth/v1/refresh-tokens/{token}``."""
        if request.method == "DELETE":
            return await self.delete_refresh(request)
        return await self.refresh_info(request)

    async def refresh_info(self, request: Request) -> Response:
        """``GET /oauth/v1/refresh-tokens/{token}``."""
        self.state.stats.metadata += 1
        return self._answer(lambda: refresh_info_v1(self.state, request.path_params["token"]))

    async def delete_refresh(self, request: Request) -> Response:
        """``DELETE /oauth/v1/refresh-tokens/{token}``: 204 (SPEC)."""
        self.state.stats.revoke += 1
        return self._answer(
            lambda: delete_refresh_v1(self.state, request.path_params["token"]), empty_status=204
        )

    async def introspect(self, request: Request) -> Response:
        """``POST /oauth/{v3,2026-03}/token/introspect``."""
        self.state.stats.introspect += 1
        fields = await form_fields(request)
        return self._answer(lambda: introspect(self.state, fields))

    async def revoke(self, request: Request) -> Response:
        """``POST /oauth/{v3,2026-03}/token/revoke``: 200 ``{}`` (HubSpot documents no success code)."""
        self.state.stats.revoke += 1
        fields = await form_fields(request)
        return self._answer(lambda: revoke(self.state, fields))
