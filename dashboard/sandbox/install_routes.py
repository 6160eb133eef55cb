"""The install pages: ``GET /oauth/authorize`` (and ``/oauth/{accountId}/authorize``) and the form post.

HubSpot shows problems on its own page and never redirects to the app for them; so does the sandbox
(HTTP 400 with an HTML error page). Only "Grant access" and "Cancel" redirect.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .authorize import decide, first_values, parse_request
from .bodies import form_fields
from .consent_page import consent_page, error_page
from .errors import AuthorizeError
from .state import SandboxState

# Consent and error pages must not be cached: each one reflects the current app settings and accounts.
NO_STORE = {"Cache-Control": "no-store"}


class InstallEndpoints:
    """Handlers bound to one sandbox's state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The routes for both authorize URL forms, GET (show) and POST (the consent form)."""
        return [
            Route("/oauth/authorize", self.show, methods=["GET"]),
            Route("/oauth/authorize", self.submit, methods=["POST"]),
            Route("/oauth/{account_id}/authorize", self.show, methods=["GET"]),
            Route("/oauth/{account_id}/authorize", self.submit, methods=["POST"]),
        ]

    @staticmethod
    def _error(error: AuthorizeError) -> HTMLResponse:
        return HTMLResponse(
            error_page(code=error.code, message=error.message),
            status_code=error.http_status,
            headers=NO_STORE,
        )

    async def show(self, request: Request) -> Response:
        """Validate the install URL and render the consent screen (or HubSpot's error page)."""
        params = first_values(request.query_params.multi_items())
        try:
            parsed = parse_request(self.state, params, request.path_params.get("account_id"))
        except AuthorizeError as error:
            return self._error(error)
        # The form posts back to this very URL, so the submit re-validates the same query string.
        action = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        page = consent_page(
            app_name=self.state.config.app_name,
            request=parsed,
            accounts=list(self.state.accounts.values()),
            action_url=action,
        )
        return HTMLResponse(page, headers=NO_STORE)

    async def submit(self, request: Request) -> Response:
        """The consent form: ``decision`` (grant/deny) and ``account_id``; 302 to the app's redirect URI."""
        params = first_values(request.query_params.multi_items())
        fields = await form_fields(request)
        try:
            parsed = parse_request(self.state, params, request.path_params.get("account_id"))
            target = decide(self.state, parsed, fields.get("account_id"), fields.get("decision", ""))
        except AuthorizeError as error:
            return self._error(error)
        return RedirectResponse(target, status_code=302, headers=NO_STORE)
