"""A slice of HubSpot's API behind Bearer auth: account details, contacts (list, read one, create) and the
App uninstalls API.

Enough to exercise what the dashboard cares about: expired (401 ``EXPIRED_AUTHENTICATION``), unknown or
revoked (401 ``INVALID_AUTHENTICATION``) and under-scoped (403 ``MISSING_SCOPES``) tokens, the per-account
burst limit with its ``X-HubSpot-RateLimit-*`` headers on every response, and the daily limit of the
account's tier (429 ``DAILY``). Each request is logged for ``GET /_sandbox/api-log`` with its header
names, never their values, so tests see what a proxy forwarded.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .contacts import MAX_LIMIT, contact, contact_count, contacts_page
from .errors import api_error, rate_limit_body
from .ratelimit import RateDecision, daily_limit_for
from .state import AccessToken, SandboxState

CONTACTS_READ = "crm.objects.contacts.read"
CONTACTS_WRITE = "crm.objects.contacts.write"
NO_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
MISSING_SCOPES = (
    "This app hasn't been granted all required scopes to make this call. "
    "Read more about required scopes here: https://developers.hubspot.com/scopes."
)


class Rejected(Exception):
    """An API request that ends before reaching its handler; carries the response."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


class ApiEndpoints:
    """Handlers bound to one sandbox's state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The API routes."""
        return [
            Route("/account-info/v3/details", self.account_details, methods=["GET"]),
            Route("/crm/v3/objects/contacts", self.contacts, methods=["GET"]),
            Route("/crm/v3/objects/contacts", self.create_contact, methods=["POST"]),
            Route("/crm/v3/objects/contacts/{contact_id}", self.read_contact, methods=["GET"]),
            *(
                Route(f"/appinstalls/{version}/external-install", self.uninstall_app, methods=["DELETE"])
                for version in ("v3", "2026-03")
            ),
        ]

    def _reject(self, status: int, body: dict[str, Any], decision: RateDecision) -> Rejected:
        return Rejected(JSONResponse(body, status_code=status, headers=decision.headers()))

    def _authenticate(self, request: Request) -> tuple[AccessToken, RateDecision]:
        """The live access token of the request and the rate-limit decision it used up."""
        state = self.state
        state.stats.api += 1
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        state.api_log.append({
            "method": request.method, "path": request.url.path, "query": request.url.query,
            "header_names": sorted({name.lower() for name in request.headers}),
            "authorization": "issued" if token.strip() in state.access_tokens
            else "other" if "authorization" in request.headers else "missing",
        })
        if scheme.lower() != "bearer" or not token.strip():
            raise self._reject(
                401, api_error(NO_CREDENTIALS, "INVALID_AUTHENTICATION"), state.rate_limiter.peek()
            )
        record = state.access_tokens.get(token.strip())
        if record is None or not record.install.active:
            body = api_error("The OAuth token used to make this call is invalid.", "INVALID_AUTHENTICATION")
            raise self._reject(401, body, state.rate_limiter.peek())
        now = state.now()
        if now >= record.expires_at:
            minutes = int((now - record.expires_at) // 60)
            message = f"The OAuth token used to make this call expired {minutes} minute(s) ago."
            raise self._reject(401, api_error(message, "EXPIRED_AUTHENTICATION"), state.rate_limiter.peek())
        account = state.accounts.get(record.hub_id)
        daily = state.settings.daily_limit or daily_limit_for(account.tier if account else "free")
        if not state.daily.hit(record.hub_id, now, daily):
            state.stats.rate_limited += 1
            raise self._reject(429, rate_limit_body("DAILY"), state.rate_limiter.peek())
        decision = state.rate_limiter.hit(record.hub_id, now)
        if not decision.allowed:
            state.stats.rate_limited += 1
            raise self._reject(429, rate_limit_body(), decision)
        return record, decision

    async def account_details(self, request: Request) -> JSONResponse:
        """``GET /account-info/v3/details``: any valid token may read it."""
        try:
            record, decision = self._authenticate(request)
        except Rejected as rejected:
            return rejected.response
        account = self.state.accounts[record.hub_id]
        body = {
            "portalId": account.hub_id,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18_000_000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }
        return JSONResponse(body, headers=decision.headers())

    async def uninstall_app(self, request: Request) -> Response:
        """``DELETE /appinstalls/{v3,2026-03}/external-install``: HubSpot's App uninstalls API (fact sheet §9).

        The access token names the account; 204 with no body. Every token of the install dies and the account
        leaves the app's installs; HubSpot would also email the account's super admins.
        """
        try:
            record, decision = self._authenticate(request)
            if "oauth" not in record.scopes:
                body = api_error(MISSING_SCOPES, "MISSING_SCOPES")
                raise self._reject(403, body, decision)
        except Rejected as rejected:
            return rejected.response
        self.state.stats.app_uninstalls += 1
        self.state.uninstall(record.hub_id)
        return Response(status_code=204, headers=decision.headers())

    def _page_params(self, request: Request, decision: RateDecision) -> tuple[int, int, tuple[str, ...]]:
        query = request.query_params
        try:
            limit = int(query.get("limit", "10"))
            after = int(query.get("after", "0"))
        except ValueError:
            body = api_error("Invalid input: limit and after must be integers.", "VALIDATION_ERROR")
            raise self._reject(400, body, decision) from None
        if limit < 1 or after < 0:
            body = api_error(
                "Invalid input: limit must be positive and after not negative.", "VALIDATION_ERROR"
            )
            raise self._reject(400, body, decision)
        properties = tuple(p for raw in query.getlist("properties") for p in raw.split(",") if p)
        return min(limit, MAX_LIMIT), after, properties

    async def contacts(self, request: Request) -> JSONResponse:
        """``GET /crm/v3/objects/contacts``: needs ``crm.objects.contacts.read``; paged by limit/after."""
        try:
            record, decision = self._authenticate(request)
            if CONTACTS_READ not in record.scopes:
                body = api_error(
                    MISSING_SCOPES,
                    "MISSING_SCOPES",
                    errors=[
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": [CONTACTS_READ]},
                        }
                    ],
                    links={"scopes": "https://developers.hubspot.com/scopes"},
                )
                raise self._reject(403, body, decision)
            limit, after, properties = self._page_params(request, decision)
        except Rejected as rejected:
            return rejected.response
        base_url = str(request.base_url).rstrip("/")
        page = contacts_page(
            record.hub_id, limit=limit, after=after, properties=properties, base_url=base_url
        )
        return JSONResponse(page, headers=decision.headers())

    def _need(self, record: AccessToken, scope: str, decision: RateDecision) -> None:
        if scope not in record.scopes:
            body = api_error(MISSING_SCOPES, "MISSING_SCOPES",
                             errors=[{"message": "One or more of the following scopes are required.",
                                      "context": {"requiredGranularScopes": [scope]}}])
            raise self._reject(403, body, decision)

    async def read_contact(self, request: Request) -> JSONResponse:
        """``GET /crm/v3/objects/contacts/{id}``: one contact, 404 ``OBJECT_NOT_FOUND`` past the last."""
        try:
            record, decision = self._authenticate(request)
            self._need(record, CONTACTS_READ, decision)
            raw = request.path_params["contact_id"]
            index = int(raw) - 1 if raw.isdigit() else -1
            if not 0 <= index < contact_count(record.hub_id):
                raise self._reject(404, api_error("Object not found.", "OBJECT_NOT_FOUND"), decision)
        except Rejected as rejected:
            return rejected.response
        return JSONResponse(contact(record.hub_id, index), headers=decision.headers())

    async def create_contact(self, request: Request) -> JSONResponse:
        """``POST /crm/v3/objects/contacts`` ``{"properties": {...}}``: 201 with the new contact (not kept)."""
        try:
            record, decision = self._authenticate(request)
            self._need(record, CONTACTS_WRITE, decision)
            try:
                data = await request.json()
            except ValueError:
                data = None
            if not isinstance(data, dict) or not isinstance(data.get("properties"), dict):
                body = api_error("Invalid input JSON: send {\"properties\": {...}}.", "VALIDATION_ERROR")
                raise self._reject(400, body, decision)
        except Rejected as rejected:
            return rejected.response
        new_id = str(contact_count(record.hub_id) + 1)
        body = {"id": new_id, "properties": {**{k: str(v) for k, v in data["properties"].items()},
                                             "hs_object_id": new_id},
                "archived": False}
        return JSONResponse(body, status_code=201, headers=decision.headers())
