"""The one HTTP client to HubSpot (or the sandbox). The only module that does HubSpot I/O.

``_send`` is the single place that touches httpx: it translates every foreign exception into our tree
(``raise ... from exc``), like httpx's own ``map_httpcore_exceptions``. Transient failures (429, 5xx,
timeouts, connection errors) are retried by tenacity with bounded exponential backoff and jitter,
honouring ``Retry-After`` when HubSpot sends it. No log line or exception carries a token or secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from dashboard.errors import HubSpotError, InvalidGrantError, ProtocolError, RateLimitedError, TransientError
from dashboard.hubspot import protocol
from dashboard.hubspot.protocol import Request, TokenInfo, TokenResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubSpotApp:
    """The HubSpot app we act as. ``repr`` hides the secret."""

    client_id: str
    client_secret: str
    redirect_uri: str
    app_base_url: str
    api_base_url: str
    oauth_api: str = "2026-03"

    def __repr__(self) -> str:
        return f"HubSpotApp(client_id={self.client_id!r}, api={self.oauth_api!r}, base={self.api_base_url!r})"

    @property
    def credentials(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}


@dataclass(frozen=True)
class RawResponse:
    """HubSpot's answer as it came (body already decoded from any Content-Encoding)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial_wait: float = 0.2
    max_wait: float = 5.0


class HubSpotClient:
    """OAuth operations and Bearer API calls for one app, over one shared ``httpx.Client``."""

    def __init__(self, app: HubSpotApp, http: httpx.Client, *, retry: RetryPolicy | None = None) -> None:
        self.app = app
        self._http = http
        self._retry = retry or RetryPolicy()
        self._flavor = protocol.FLAVORS[app.oauth_api]
        self._backoff = wait_exponential_jitter(multiplier=self._retry.initial_wait, max=self._retry.max_wait,
                                                jitter=self._retry.initial_wait)

    # --- operations ------------------------------------------------------------------------------------

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy (a refresh lease must outlive every attempt of it)."""
        return self._retry

    def exchange_code(self, code: str) -> TokenResponse:
        """Trade an authorization code for tokens. Not retried: codes are single use."""
        form = protocol.code_exchange_form(client_id=self.app.client_id, client_secret=self.app.client_secret,
                                           code=code, redirect_uri=self.app.redirect_uri)
        resp = self._send(self._flavor.token_request(form, "code exchange"))
        return protocol.parse_token_response(resp.content)

    def refresh(self, refresh_token: str) -> TokenResponse:
        """Refresh grant. Retried only on failures where HubSpot cannot have used the token (see _send)."""
        form = protocol.refresh_form(client_id=self.app.client_id, client_secret=self.app.client_secret,
                                     refresh_token=refresh_token)
        resp = self._with_retry(self._flavor.token_request(form, "token refresh"))
        return protocol.parse_token_response(resp.content)

    def introspect(self, token: str, *, hint: str = "access_token") -> TokenInfo:
        """Token metadata; an unknown or dead token gives ``TokenInfo(active=False)``."""
        req = self._flavor.introspect_request(self.app.credentials, token, hint)
        try:
            resp = self._with_retry(req)
        except HubSpotError as exc:
            # v1 metadata answers 4xx for a dead token where introspection says active=false.
            if exc.status in (400, 401, 404) and self._flavor.introspect_path is None:
                return TokenInfo(active=False)
            raise
        return protocol.parse_token_info(resp.content)

    def revoke(self, refresh_token: str) -> bool:
        """Revoke the refresh token at HubSpot (v1: DELETE, 2026-03/v3: POST /token/revoke).

        Idempotent: True when HubSpot revoked it now, False when HubSpot says it was already dead (HubSpot
        documents no answer for that; a 4xx naming the token, or a 404, both mean the token is gone).
        """
        try:
            self._with_retry(self._flavor.revoke_request(self.app.credentials, refresh_token))
        except InvalidGrantError:
            return False
        except HubSpotError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def uninstall_app(self, access_token: str) -> None:
        """Uninstall the app from the access token's account (HubSpot's App uninstalls API; 204)."""
        self._with_retry(self._flavor.uninstall_request(access_token))

    def api_get(self, access_token: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """A Bearer-authenticated GET; returns parsed JSON."""
        return self.api_call(access_token, "GET", path, params=params)

    def api_call(self, access_token: str, method: str, path: str, *, params: dict[str, Any] | None = None,
                 json_body: Any = None) -> Any:
        """Any Bearer-authenticated call; 2xx JSON body parsed, an empty body gives None."""
        headers = {"Authorization": f"Bearer {access_token}"}
        req = Request(method.upper(), path, params=params, headers=headers, operation=f"{method.upper()} {path}")
        resp = self._with_retry(req, json_body=json_body)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise ProtocolError(f"HubSpot sent non-JSON for {method.upper()} {path}") from None

    def forward(self, access_token: str, method: str, path: str, *, query: str = "",
                headers: dict[str, str] | None = None, body: bytes = b"", timeout: float | None = None
                ) -> RawResponse:
        """One call for the proxy, as is: no retry, any status returned (the proxy decides what a 401 or a
        429 means). ``path`` and ``query`` must come from :func:`dashboard.proxy.paths.resolve_path` and
        the caller's query string; our ``Authorization`` replaces any other. Timeouts raise
        :class:`TransientError` with code ``hubspot_timeout``, connection failures ``hubspot_unreachable``.
        """
        url = self.app.api_base_url.rstrip("/") + path + (f"?{query}" if query else "")
        sent = {**(headers or {}), "authorization": f"Bearer {access_token}"}
        operation = f"{method} {path}"
        try:
            resp = self._http.request(method, url, content=body or None, headers=sent,
                                      timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException as exc:
            raise TransientError(f"HubSpot did not answer {operation} in time", code="hubspot_timeout") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach HubSpot for {operation} ({exc.__class__.__name__})",
                                 code="hubspot_unreachable") from exc
        log.debug("hubspot proxy %s -> %s", operation, resp.status_code)
        return RawResponse(resp.status_code, tuple(resp.headers.multi_items()), resp.content)

    # --- I/O -------------------------------------------------------------------------------------------

    def _with_retry(self, req: Request, json_body: Any = None) -> httpx.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._send(req, json_body=json_body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, self._retry.max_wait)
        return float(self._backoff(state))

    def _send(self, req: Request, json_body: Any = None) -> httpx.Response:
        url = self.app.api_base_url + req.path
        try:
            resp = self._http.request(req.method, url, data=req.form, params=req.params, headers=req.headers,
                                      json=json_body)
        except httpx.TimeoutException as exc:
            raise TransientError(f"HubSpot {req.operation} timed out") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach HubSpot for {req.operation} ({exc.__class__.__name__})") from exc
        if resp.is_success:
            log.debug("hubspot %s -> %s", req.operation, resp.status_code)
            return resp
        err = protocol.error_from_response(resp.status_code, resp.content, dict(resp.headers), req.operation)
        log.info("hubspot %s -> %s (%s)", req.operation, resp.status_code, err.code)
        raise err
