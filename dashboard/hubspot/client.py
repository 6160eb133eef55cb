"""The one HTTP client to HubSpot (or the sandbox). The only module that does HubSpot I/O.

``_send`` is the single place that touches httpx: it translates every foreign exception into our tree
(``raise ... from exc``), like httpx's own ``map_httpcore_exceptions``. Transient failures of API and
metadata calls (429, 5xx, timeouts, connection errors) are retried by tenacity with bounded exponential
backoff and jitter, honouring ``Retry-After`` when HubSpot sends it.

Token calls (the refresh grant, the code exchange) are different: with rotating refresh tokens HubSpot's
answer is the only copy of the new refresh token, so a request HubSpot may have used must never be sent
again with the same token. They get their own, longer timeout (``DASHBOARD_TOKEN_TIMEOUT_SECONDS``, a
budget for the whole call, retries included). A refresh is retried in the same call only when HubSpot
cannot have used the token: the connection was never made, or HubSpot answered 429 / 5xx with a body. A
read timeout, a dropped connection or an empty 5xx raise :class:`RefreshOutcomeUnknown` at once, which
the refresh path records as a transient failure: the next attempt is the normal backoff.
No log line or exception carries a token or secret.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_exponential_jitter

from dashboard.errors import (
    HubSpotAnswer,
    HubSpotError,
    InvalidGrantError,
    ProtocolError,
    RateLimitedError,
    RefreshOutcomeUnknown,
    TransientError,
)
from dashboard.hubspot import protocol
from dashboard.hubspot.answers import kept_answer
from dashboard.hubspot.forwarding import Forwarder, RawResponse
from dashboard.hubspot.protocol import Request, TokenInfo, TokenResponse

log = logging.getLogger(__name__)
DEFAULT_TOKEN_TIMEOUT_S = 30.0
# Failures where the request never reached HubSpot: safe to send again with the same refresh token.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


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


class RetryGate(Protocol):
    """Decides on in-call retries from outside the client (the outage breaker: dashboard/lifecycle/breaker.py)."""

    def __call__(self, exc: HubSpotError) -> bool:
        """Sees every failed attempt; whether a transient one may be retried."""

    def proceed(self) -> bool:
        """Asked again just before a retry goes out (the answer may have changed during the wait)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial_wait: float = 0.2
    max_wait: float = 5.0


class HubSpotClient:
    """OAuth operations and Bearer API calls for one app, over one shared ``httpx.Client``."""

    def __init__(self, app: HubSpotApp, http: httpx.Client, *, retry: RetryPolicy | None = None,
                 token_timeout: float = DEFAULT_TOKEN_TIMEOUT_S, forwarder: Forwarder | None = None) -> None:
        self.app = app
        self._http = http
        self.forwarder = forwarder or Forwarder(app, http)  # the proxy's calls (dashboard/hubspot/forwarding.py)
        self._retry = retry or RetryPolicy()
        self.token_timeout = token_timeout
        self._flavor = protocol.FLAVORS[app.oauth_api]
        # Parsed once: parsing the URL string again was ~7% of a refresh grant's client CPU (the sweep's hot path).
        self._token_url = httpx.URL(app.api_base_url + self._flavor.token_path)
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
        resp = self._send(self._flavor.token_request(form, "code exchange"), timeout=self.token_timeout)
        return protocol.parse_token_response(resp.content)

    def refresh(self, refresh_token: str, *, may_retry: RetryGate | None = None) -> TokenResponse:
        """Refresh grant, within ``token_timeout`` in all. Retried only on failures where HubSpot cannot have
        used the token (no connection, or 429 / 5xx with a body); :class:`RefreshOutcomeUnknown` otherwise.

        ``may_retry`` sees every failed attempt (the outage detector counts them) and may forbid the next
        one (no in-call retries while HubSpot is degraded: dashboard/lifecycle/breaker.py).
        """
        form = protocol.refresh_form(client_id=self.app.client_id, client_secret=self.app.client_secret,
                                     refresh_token=refresh_token)
        req = self._flavor.token_request(form, "token refresh")
        deadline = time.monotonic() + self.token_timeout
        for attempt in range(1, self._retry.attempts + 1):
            try:
                resp = self._send(req, timeout=deadline - time.monotonic(), token_call=True)
                break
            except HubSpotError as exc:
                exc.attempt = attempt
                allowed = may_retry(exc) if may_retry is not None else True
                if isinstance(exc, RefreshOutcomeUnknown) or not isinstance(exc, TransientError):
                    raise  # HubSpot may have used the token (or refused it): sending it again could lose one
                wait = self._retry_wait(exc, attempt)
                if not allowed or attempt == self._retry.attempts or time.monotonic() + wait >= deadline:
                    raise
                time.sleep(wait)
                if may_retry is not None and not may_retry.proceed():
                    raise
        try:
            return protocol.parse_token_response(resp.content)
        except ProtocolError as exc:  # a malformed 200: kept like any failed answer
            exc.answer = kept_answer(resp.status_code, resp.content[:4096])
            raise

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
        """One call for the proxy, as is (dashboard/hubspot/forwarding.py)."""
        return self.forwarder.forward(access_token, method, path, query=query, headers=headers, body=body,
                                      timeout=timeout)

    async def forward_async(self, access_token: str, method: str, path: str, *, query: str = "",
                            headers: dict[str, str] | None = None, body: bytes = b"",
                            timeout: float | None = None) -> RawResponse:
        """:meth:`forward` on the running event loop, without a worker thread."""
        return await self.forwarder.forward_async(access_token, method, path, query=query, headers=headers,
                                                  body=body, timeout=timeout)

    # --- I/O -------------------------------------------------------------------------------------------

    def _with_retry(self, req: Request, json_body: Any = None,
                    may_retry: RetryGate | None = None) -> httpx.Response:
        def retryable(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if not isinstance(exc, TransientError):
                return False
            return may_retry is None or may_retry(exc)

        retrying = Retrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._wait,
            retry=retryable,
            reraise=True,
        )
        last: HubSpotError | None = None
        for attempt in retrying:
            with attempt:
                if last is not None and may_retry is not None and not may_retry.proceed():
                    raise last
                try:
                    return self._send(req, json_body=json_body)
                except HubSpotError as exc:
                    exc.attempt = attempt.retry_state.attempt_number
                    last = exc
                    if may_retry is not None and not isinstance(exc, TransientError):
                        may_retry(exc)  # seen too (the detector counts failed attempts of every kind)
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, self._retry.max_wait)
        return float(self._backoff(state))

    def _retry_wait(self, exc: TransientError, attempt: int) -> float:
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, self._retry.max_wait)
        return float(min(self._retry.initial_wait * 2.0 ** (attempt - 1), self._retry.max_wait))

    def _send(self, req: Request, json_body: Any = None, *, timeout: float | None = None,
              token_call: bool = False) -> httpx.Response:
        """One request. ``timeout``: this call's own (seconds, for reading too; default the client's).
        ``token_call``: a failure after the request may have reached HubSpot is :class:`RefreshOutcomeUnknown`."""
        url = self._token_url if req.path == self._flavor.token_path else self.app.api_base_url + req.path
        extra: dict[str, Any] = {}
        if timeout is not None:
            timeout = max(timeout, 0.001)
            connect = self._http.timeout.connect
            extra["timeout"] = httpx.Timeout(timeout, connect=min(connect, timeout) if connect else timeout)
        try:
            resp = self._http.request(req.method, url, data=req.form, params=req.params, headers=req.headers,
                                      json=json_body, **extra)
        except _NOT_SENT as exc:
            raise TransientError(f"cannot reach HubSpot for {req.operation} ({exc.__class__.__name__})") from exc
        except httpx.TimeoutException as exc:
            if token_call:
                err: HubSpotError = RefreshOutcomeUnknown(
                    f"HubSpot {req.operation} timed out after it was sent; HubSpot may have used the refresh "
                    "token, so it is not sent again at once")
            else:
                err = TransientError(f"HubSpot {req.operation} timed out")
            err.answer = HubSpotAnswer(message="no answer: timed out")
            raise err from exc
        except httpx.TransportError as exc:
            if token_call:
                err = RefreshOutcomeUnknown(f"the connection to HubSpot broke during {req.operation} "
                                            f"({exc.__class__.__name__}); HubSpot may have used the refresh "
                                            "token, so it is not sent again at once")
            else:
                err = TransientError(f"cannot reach HubSpot for {req.operation} ({exc.__class__.__name__})")
            err.answer = HubSpotAnswer(message=f"no answer: {exc.__class__.__name__}")
            raise err from exc
        if resp.is_success:
            log.debug("hubspot %s -> %s", req.operation, resp.status_code)
            return resp
        if token_call and resp.status_code >= 500 and not resp.content.strip():
            # An empty 5xx comes from something between us and HubSpot (a proxy gave up): no answer from it.
            log.info("hubspot %s -> %s (empty body: outcome unknown)", req.operation, resp.status_code)
            unknown = RefreshOutcomeUnknown(f"HubSpot {req.operation} failed with an empty HTTP {resp.status_code}; "
                                            "HubSpot may have used the refresh token, so it is not sent again at "
                                            "once", status=resp.status_code)
            unknown.answer = kept_answer(resp.status_code, b"")
            raise unknown
        failed = protocol.error_from_response(resp.status_code, resp.content, dict(resp.headers), req.operation)
        log.info("hubspot %s -> %s (%s)", req.operation, resp.status_code, failed.code)
        raise failed
