"""The HTTP transport to HubSpot: several small connection pools, each thread bound to one.

httpcore 1.0's connection pool does O(connections²) bookkeeping on every request and every response
(encode/httpcore#1035, still open): with 50 refresh threads sharing one 64-connection pool, that
bookkeeping was about half the client CPU of a refresh sweep (bench/refresh_sweep.py). Pools of at most
``per_pool`` connections keep it small. A thread always uses the same pool, so keep-alive works as before.
Tests replace the whole transport (``build_context(transport=...)``), so this class is never in their way.
"""

from __future__ import annotations

import itertools
import math
import threading
from typing import TypeAlias

import httpx

from dashboard.outbound import pool_limits

# Names the composition root uses, so that only the HTTP edges import httpx.
HttpClient: TypeAlias = httpx.Client
Transport: TypeAlias = httpx.BaseTransport
USER_AGENT = "hubspot-oauth-dashboard/0.1"


class ShardedTransport(httpx.BaseTransport):
    """``max_connections`` spread over pools of ``per_pool``; threads are assigned pools round-robin."""

    def __init__(self, *, max_connections: int, per_pool: int = 4) -> None:
        per_pool = max(1, min(per_pool, max_connections))
        limits = pool_limits(per_pool)  # idle connections expire before common servers close them
        tls = httpx.create_ssl_context()  # one for all pools: loading the CA bundle takes ~30 ms
        self._pools = [httpx.HTTPTransport(verify=tls, limits=limits)
                       for _ in range(math.ceil(max_connections / per_pool))]
        self._next = itertools.count()
        self._local = threading.local()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pool: httpx.HTTPTransport | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = self._pools[next(self._next) % len(self._pools)]
        return pool.handle_request(request)

    def close(self) -> None:
        for pool in self._pools:
            pool.close()


class AsyncShardedTransport(httpx.AsyncBaseTransport):
    """The same for one event loop: ``max_connections`` over async pools of ``per_pool``, taken in turn.

    httpcore's async pool checks every connection it holds on every request and response (``has_expired``:
    a ``getpeername`` each), the same O(connections²) as above. With 50 calls in flight against the sandbox,
    client CPU per call: one pool of 64 2.8 ms, pools of 8 0.7-0.8 ms, of 4 0.53 ms, of 2 0.51-0.52 ms
    (docs/proofs.md). Calls on one loop need no thread affinity, so each request takes the next pool in turn;
    keep-alive connections are reused within it.
    """

    def __init__(self, *, max_connections: int, per_pool: int = 4) -> None:
        per_pool = max(1, min(per_pool, max_connections))
        limits = pool_limits(per_pool)  # idle connections expire before common servers close them
        tls = httpx.create_ssl_context()
        self._pools = [httpx.AsyncHTTPTransport(verify=tls, limits=limits)
                       for _ in range(math.ceil(max_connections / per_pool))]
        self._next = itertools.count()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pools[next(self._next) % len(self._pools)].handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class _NoCookies(httpx.Cookies):
    """An always empty jar: what a response sets is dropped, and nothing can be set."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        raise TypeError("this HTTP client keeps no cookies")


class _CookielessClient(httpx.Client):
    """An ``httpx.Client`` that keeps no cookies. HubSpot authenticates every call by its token (its official
    SDK keeps none either); a cookie one portal's answer set must never ride along with another portal's call
    (the proxy's async path sends to a transport for the same reason: dashboard/hubspot/forwarding.py); and the
    jar rebuilt a ``urllib`` request for every response, some 0.04 ms of a refresh grant's ~0.5 ms of client
    CPU (bench/refresh_sweep.py)."""

    _no_cookies = _NoCookies()  # empty for good: one for every client

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise TypeError("this HTTP client keeps no cookies")


def build_http_client(*, transport: Transport | None, timeout: float, pool_size: int) -> HttpClient:
    """The process's HTTP client: ``transport`` (tests) or sharded pools of ``pool_size`` connections in all;
    it keeps no cookies (:class:`_CookielessClient`)."""
    return _CookielessClient(transport=transport or ShardedTransport(max_connections=pool_size), timeout=timeout,
                             headers={"User-Agent": USER_AGENT})
