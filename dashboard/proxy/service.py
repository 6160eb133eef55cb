"""The HubSpot API proxy's core: one call for an API key, with a fresh token, under the portal's window.

Order of checks, each answering before anything reaches HubSpot: the key's method (read-only keys: GET and
HEAD), the path (:func:`paths.resolve_path`), the portal (the token API's service: unknown or not allowed
404, revoked / needs re-consent 409, a token inside the leeway refreshed first, single-flight under the
portal's lease), the portal's window (:class:`limiter.PortalLimiter`: 429 with ``Retry-After``, or a bounded
wait). HubSpot's answer goes back as is; a 401 ``EXPIRED_AUTHENTICATION`` refreshes once and retries once;
a 429 pauses the portal's window. Every outcome is counted per minute, portal and key (:mod:`usage`).
Transport-free: ``dashboard/web/proxy_routes.py`` maps it to HTTP (through :meth:`ProxyService.call_async`,
on the server's event loop).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dashboard.actors import OPERATOR, Actor
from dashboard.admin.api_keys import ApiKeyInfo
from dashboard.context import AppContext
from dashboard.errors import ApiRateLimitedError, DashboardError, PermissionDeniedError
from dashboard.hubspot.forwarding import RawResponse
from dashboard.ops import counters
from dashboard.proxy import paths
from dashboard.proxy.limiter import PortalLimiter, WindowLimiter, build_async_storage, build_storage
from dashboard.proxy.tokens import PortalTokens
from dashboard.proxy.usage import UsageRecorder, outcome_of
from dashboard.refresh import service as refresh

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
    """One per server process: its limiter (shared through Redis when configured) and usage counts.

    Two ways through, the same steps: :meth:`call` blocks (the console, the CLI: tokens from ``tokens``);
    :meth:`call_async` runs on the server's event loop (the HTTP proxy: tokens from ``portal_tokens``, kept
    2 s; HubSpot over the loop's async connections). The portal's window: in memory a dictionary update both
    ways; in Redis one round trip of limits' Lua script, awaited on the event loop.
    """

    def __init__(self, ctx: AppContext, tokens: TokenSource, *, portal_tokens: PortalTokens | None = None,
                 limiter: PortalLimiter | None = None, sleep: Callable[[float], None] = time.sleep,
                 timeline: bool = True) -> None:
        self.ctx = ctx
        self.tokens = tokens
        self.portal_tokens = portal_tokens
        self.limiter = limiter or PortalLimiter(
            WindowLimiter(build_storage(ctx.settings), build_async_storage(ctx.settings)), app=ctx.app_id)
        self.usage = UsageRecorder(ctx, timeline=timeline)
        self._sleep = sleep

    # --- the steps both ways share ----------------------------------------------------------------------

    def _checked(self, key: ApiKeyInfo, method: str, raw_path: str, query: str,
                 headers: Iterable[tuple[str, str]]) -> tuple[str, str, dict[str, str]]:
        """The method, path and headers to send, or our error (nothing is sent then)."""
        method = method.upper()
        if method not in paths.ALLOWED_METHODS:
            raise PermissionDeniedError(f"the proxy does not forward {method[:10]}", code="method_not_allowed")
        if key.read_only and method not in paths.READ_METHODS:
            raise PermissionDeniedError(f"API key {key.prefix} is read-only: only GET and HEAD go through "
                                        "the proxy", code="read_only_key")
        path = paths.resolve_path(raw_path)
        paths.target_url(self.ctx.app.api_base_url, path, query)
        return method, path, paths.request_headers(headers)

    def _wait_for_slot(self, key: ApiKeyInfo, hub_id: int, started: float, wait: float) -> float:
        """``wait``: what the portal's window answered (0: a slot is taken). How long to sleep before asking
        again; over DASHBOARD_PROXY_MAX_WAIT_SECONDS our 429 (counted), nothing sent."""
        if wait <= 0:
            return 0.0
        left = started + self.ctx.settings.dashboard_proxy_max_wait_seconds - time.monotonic()
        if wait > left:
            self._count(key, hub_id, "limited_local", started)
            window = self.limiter.window(hub_id)
            raise ApiRateLimitedError(
                f"portal {hub_id} is at HubSpot's limit of {window.limit} calls per "
                f"{window.interval_ms / 1000:g} s; the proxy sent nothing", retry_after=max(1.0, wait))
        return wait

    def _count(self, key: ApiKeyInfo, hub_id: int, outcome: str, started: float) -> None:
        self.usage.record(hub_id, key.prefix, outcome, (time.monotonic() - started) * 1000, actor=key.actor_name)
        counters.record_proxy_call(outcome)

    def _sent(self, key: ApiKeyInfo, hub_id: int, resp: RawResponse) -> RawResponse:
        self.limiter.learn(hub_id, paths.learned_window({k.lower(): v for k, v in resp.headers}))
        return resp

    def _answer(self, key: ApiKeyInfo, hub_id: int, resp: RawResponse, started: float, *,
                paused: bool = False) -> ProxyResponse:
        headers = paths.response_headers(resp.headers)
        if resp.status == 429:
            if not paused:
                self.limiter.pause(hub_id)
            window = self.limiter.window(hub_id)
            headers["retry-after"] = str(paths.retry_after_seconds(headers, _category(resp.body),
                                                                   window.interval_ms))
        self._count(key, hub_id, outcome_of(resp.status), started)
        return ProxyResponse(resp.status, headers, resp.body)

    # --- blocking -------------------------------------------------------------------------------------

    def call(self, key: ApiKeyInfo, hub_id: int, method: str, raw_path: str, *, query: str = "",
             headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> ProxyResponse:
        """Forward one call; raises our errors for every answer that is ours (4xx/5xx before HubSpot)."""
        started = time.monotonic()
        try:
            method, path, sent = self._checked(key, method, raw_path, query, headers)
            token = self.tokens(key, hub_id)
        except DashboardError:
            counters.record_proxy_call("refused")
            raise
        resp = self._send(key, hub_id, token, method, path, query, sent, body, started)
        if resp.status == 401 and _category(resp.body) == "EXPIRED_AUTHENTICATION":
            # HubSpot's rule: a 401 is at most one refresh and one retry, never a loop.
            refresh.refresh_portal(self.ctx, hub_id, actor=Actor(key.actor_name, OPERATOR), force=True)
            resp = self._send(key, hub_id, self.tokens(key, hub_id), method, path, query, sent, body, started)
        return self._answer(key, hub_id, resp, started)

    def _send(self, key: ApiKeyInfo, hub_id: int, token: str, method: str, path: str, query: str,
              headers: dict[str, str], body: bytes, started: float) -> RawResponse:
        while (wait := self._wait_for_slot(key, hub_id, started, self.limiter.take(hub_id))) > 0:
            self._sleep(wait)
        try:
            resp = self.ctx.hubspot.forward(token, method, path, query=query, headers=headers, body=body,
                                            timeout=self.ctx.settings.dashboard_proxy_timeout_seconds)
        except DashboardError:
            self._count(key, hub_id, "s5xx", started)
            raise
        return self._sent(key, hub_id, resp)

    # --- on the event loop ----------------------------------------------------------------------------

    async def call_async(self, key: ApiKeyInfo, hub_id: int, method: str, raw_path: str, *, query: str = "",
                         headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> ProxyResponse:
        """:meth:`call` on the event loop: no worker thread unless a token must be refreshed."""
        assert self.portal_tokens is not None, "call_async needs portal_tokens"
        tokens = self.portal_tokens
        started = time.monotonic()
        try:
            method, path, sent = self._checked(key, method, raw_path, query, headers)
            token = await tokens.get(key, hub_id)
        except DashboardError:
            counters.record_proxy_call("refused")
            raise
        resp = await self._send_async(key, hub_id, token, method, path, query, sent, body, started)
        if resp.status == 401 and _category(resp.body) == "EXPIRED_AUTHENTICATION":
            tokens.forget(hub_id)  # HubSpot's rule: at most one refresh and one retry, never a loop
            await asyncio.to_thread(refresh.refresh_portal, self.ctx, hub_id,
                                    actor=Actor(key.actor_name, OPERATOR), force=True)
            token = await tokens.get(key, hub_id)
            resp = await self._send_async(key, hub_id, token, method, path, query, sent, body, started)
        if resp.status == 429:
            await self.limiter.pause_async(hub_id)
        return self._answer(key, hub_id, resp, started, paused=True)

    async def _send_async(self, key: ApiKeyInfo, hub_id: int, token: str, method: str, path: str, query: str,
                          headers: dict[str, str], body: bytes, started: float) -> RawResponse:
        while (wait := self._wait_for_slot(key, hub_id, started, await self.limiter.take_async(hub_id))) > 0:
            await asyncio.sleep(wait)
        try:
            resp = await self.ctx.hubspot.forward_async(
                token, method, path, query=query, headers=headers, body=body,
                timeout=self.ctx.settings.dashboard_proxy_timeout_seconds)
        except DashboardError:
            self._count(key, hub_id, "s5xx", started)
            raise
        return self._sent(key, hub_id, resp)

    def close(self) -> None:
        self.usage.close()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
