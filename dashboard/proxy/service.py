"""The HubSpot API proxy's core: one call for an API key, with a fresh token, under the portal's window.

Order of checks, each answering before anything reaches HubSpot: the key's method (read-only keys: GET and
HEAD), the path (:func:`paths.resolve_path`), the portal (the token API's service: unknown or not allowed
404, revoked / needs re-consent 409, a token inside the leeway refreshed first, single-flight under the
portal's lease), the portal's window (:class:`limiter.PortalLimiter`: 429 with ``Retry-After``, or a bounded
wait). HubSpot's answer goes back as is; a 401 ``EXPIRED_AUTHENTICATION`` refreshes once and retries once;
a 429 pauses the portal's window. Every outcome is counted per minute, portal and key (:mod:`usage`).
Transport-free: ``dashboard/web/proxy_routes.py`` maps it to HTTP.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dashboard import metrics, refresh
from dashboard.actors import OPERATOR, Actor
from dashboard.api_keys import ApiKeyInfo
from dashboard.context import AppContext
from dashboard.errors import ApiRateLimitedError, DashboardError, PermissionDeniedError
from dashboard.hubspot.client import RawResponse
from dashboard.proxy import paths
from dashboard.proxy.limiter import PortalLimiter, WindowLimiter, build_storage
from dashboard.proxy.usage import UsageRecorder, outcome_of

TokenSource = Callable[[ApiKeyInfo, int], str]


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _category(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return str(data.get("category") or data.get("policyName") or "") or None if isinstance(data, dict) else None


class ProxyService:
    """One per server process: its limiter (shared through Redis when configured) and usage counts."""

    def __init__(self, ctx: AppContext, tokens: TokenSource, *, limiter: PortalLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ctx = ctx
        self.tokens = tokens
        self.limiter = limiter or PortalLimiter(WindowLimiter(build_storage(ctx.settings)), app=ctx.app_id)
        self.usage = UsageRecorder(ctx)
        self._sleep = sleep

    def _slot(self, key: ApiKeyInfo, hub_id: int, started: float) -> None:
        """Wait (bounded by DASHBOARD_PROXY_MAX_WAIT_SECONDS) for a slot in the portal's window."""
        deadline = started + self.ctx.settings.dashboard_proxy_max_wait_seconds
        while True:
            wait = self.limiter.take(hub_id)
            if wait <= 0:
                return
            left = deadline - time.monotonic()
            if wait > left:
                self._count(key, hub_id, "limited_local", started)
                window = self.limiter.window(hub_id)
                raise ApiRateLimitedError(
                    f"portal {hub_id} is at HubSpot's limit of {window.limit} calls per "
                    f"{window.interval_ms / 1000:g} s; the proxy sent nothing", retry_after=max(1.0, wait))
            self._sleep(wait)

    def _count(self, key: ApiKeyInfo, hub_id: int, outcome: str, started: float) -> None:
        self.usage.record(hub_id, key.prefix, outcome, (time.monotonic() - started) * 1000)
        metrics.record_proxy_call(outcome)

    def call(self, key: ApiKeyInfo, hub_id: int, method: str, raw_path: str, *, query: str = "",
             headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> ProxyResponse:
        """Forward one call; raises our errors for every answer that is ours (4xx/5xx before HubSpot)."""
        started = time.monotonic()
        method = method.upper()
        try:
            if method not in paths.ALLOWED_METHODS:
                raise PermissionDeniedError(f"the proxy does not forward {method[:10]}", code="method_not_allowed")
            if key.read_only and method not in paths.READ_METHODS:
                raise PermissionDeniedError(f"API key {key.prefix} is read-only: only GET and HEAD go through "
                                            "the proxy", code="read_only_key")
            path = paths.resolve_path(raw_path)
            paths.target_url(self.ctx.app.api_base_url, path, query)
            sent = paths.request_headers(headers)
            token = self.tokens(key, hub_id)
        except DashboardError:
            metrics.record_proxy_call("refused")
            raise
        self._slot(key, hub_id, started)
        resp = self._send(key, hub_id, token, method, path, query, sent, body, started)
        if resp.status == 401 and _category(resp.body) == "EXPIRED_AUTHENTICATION":
            # HubSpot's rule: a 401 is at most one refresh and one retry, never a loop.
            refresh.refresh_portal(self.ctx, hub_id, actor=Actor(key.actor_name, OPERATOR), force=True)
            token = self.tokens(key, hub_id)
            self._slot(key, hub_id, started)
            resp = self._send(key, hub_id, token, method, path, query, sent, body, started)
        return self._answer(key, hub_id, resp, started)

    def _send(self, key: ApiKeyInfo, hub_id: int, token: str, method: str, path: str, query: str,
              headers: dict[str, str], body: bytes, started: float) -> RawResponse:
        try:
            resp = self.ctx.hubspot.forward(token, method, path, query=query, headers=headers, body=body,
                                            timeout=self.ctx.settings.dashboard_proxy_timeout_seconds)
        except DashboardError:
            self._count(key, hub_id, "s5xx", started)
            raise
        self.limiter.learn(hub_id, paths.learned_window({k.lower(): v for k, v in resp.headers}))
        return resp

    def _answer(self, key: ApiKeyInfo, hub_id: int, resp: RawResponse, started: float) -> ProxyResponse:
        headers = paths.response_headers(resp.headers)
        if resp.status == 429:
            self.limiter.pause(hub_id)
            window = self.limiter.window(hub_id)
            headers["retry-after"] = str(paths.retry_after_seconds(headers, _category(resp.body),
                                                                   window.interval_ms))
        self._count(key, hub_id, outcome_of(resp.status), started)
        return ProxyResponse(resp.status, headers, resp.body)

    def close(self) -> None:
        self.usage.close()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
