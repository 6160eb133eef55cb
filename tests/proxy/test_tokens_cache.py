"""The proxy's token cache (dashboard/proxy/tokens.py) over the real token API, database and sandbox: how long
a token is kept, what happens when another process refreshes it, near its expiry, after HubSpot's 401, and
for a key that may not see the portal. Revocations over HTTP: a revoked key and a revoked portal are refused
within the cache times."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from dashboard.admin import api_keys
from dashboard.admin.api_keys import KEY_CACHE_SECONDS, ApiKeyInfo
from dashboard.connections import service as connections
from dashboard.context import AppContext, build_context
from dashboard.errors import NotFoundError, PortalRevokedError
from dashboard.proxy.tokens import TOKEN_CACHE_SECONDS, IssuedToken, PortalTokens
from dashboard.refresh import service as refresh
from dashboard.sandbox.server import SandboxServer
from dashboard.tokens.service import TokenApi
from tests.proxy.conftest import CONTACTS, Api
from tests.utils.lifecycle import ADMIN, FAST_RETRY

Read = Callable[[ApiKeyInfo, int], Awaitable[IssuedToken]]


def counted(api: TokenApi, reads: list[int]) -> tuple[Read, Callable[[ApiKeyInfo, int], IssuedToken]]:
    """The token API's reads (not counted in the audit log), each one noted in ``reads``."""
    async def read(key: ApiKeyInfo, hub_id: int) -> IssuedToken:
        reads.append(hub_id)
        return await api.access_token_async(key, hub_id, action="")

    def read_blocking(key: ApiKeyInfo, hub_id: int) -> IssuedToken:
        reads.append(hub_id)
        return api.access_token(key, hub_id, action="")

    return read, read_blocking


@pytest.fixture
def key(ctx: AppContext) -> ApiKeyInfo:
    return api_keys.create_key(ctx, actor=ADMIN, name="cache").info


def accepted_by_hubspot(sandbox: SandboxServer, token: str) -> bool:
    return httpx.get(f"{sandbox.url}{CONTACTS}?limit=1", headers={"Authorization": f"Bearer {token}"},
                     timeout=5).status_code == 200


def test_a_token_is_kept_for_the_cache_time_then_read_again(ctx: AppContext, hub: int, key: ApiKeyInfo) -> None:
    reads: list[int] = []
    tokens = PortalTokens(*counted(TokenApi(ctx), reads), ttl=0.3, app=ctx.app_id)

    async def go() -> list[str]:
        got = [await tokens.get(key, hub) for _ in range(5)]
        await asyncio.sleep(0.35)
        return [*got, await tokens.get(key, hub)]

    got = asyncio.run(go())
    assert len(set(got)) == 1 and reads == [hub, hub]
    assert tokens.get_blocking(key, hub) == got[0] and reads == [hub, hub]


def test_past_half_its_time_a_token_is_served_and_read_again_in_the_background(
        ctx: AppContext, hub: int, key: ApiKeyInfo) -> None:
    reads: list[int] = []
    tokens = PortalTokens(*counted(TokenApi(ctx), reads), ttl=0.4, app=ctx.app_id)

    async def go() -> None:
        first = await tokens.get(key, hub)
        await asyncio.sleep(0.25)  # past half the cache time: served at once, read again behind it
        assert await tokens.get(key, hub) == first and reads == [hub]
        await asyncio.sleep(0.1)
        assert reads == [hub, hub]  # the background read
        await asyncio.sleep(0.2)  # 0.55 s after the first read: without the background read, one in the foreground
        assert await tokens.get(key, hub) == first and reads == [hub, hub]

    asyncio.run(go())


def test_a_background_read_that_fails_drops_the_token_and_the_next_call_gets_the_error(
        ctx: AppContext, hub: int, key: ApiKeyInfo) -> None:
    tokens = PortalTokens(*counted(TokenApi(ctx), []), ttl=0.4, app=ctx.app_id)

    async def go() -> None:
        await tokens.get(key, hub)
        connections.revoke(ctx, hub, actor=ADMIN, local_only=True)
        await asyncio.sleep(0.25)
        await tokens.get(key, hub)  # still within the cache time: served, the background read fails
        await asyncio.sleep(0.1)
        with pytest.raises(PortalRevokedError):
            await tokens.get(key, hub)

    asyncio.run(go())


def test_a_token_refreshed_by_another_process_is_served_until_the_cache_time_and_still_works(
        ctx: AppContext, hub: int, key: ApiKeyInfo, sandbox: SandboxServer) -> None:
    other = build_context(ctx.settings, sandbox_url=sandbox.url, retry=FAST_RETRY)  # another replica
    tokens = PortalTokens(*counted(TokenApi(ctx), []), ttl=0.5, app=ctx.app_id)
    try:
        async def go() -> tuple[str, str, str]:
            before = await tokens.get(key, hub)
            assert refresh.refresh_portal(other, hub, actor=ADMIN, force=True).result == "refreshed"
            kept = await tokens.get(key, hub)
            await asyncio.sleep(0.55)
            return before, kept, await tokens.get(key, hub)

        before, kept, after = asyncio.run(go())
    finally:
        other.close()
    assert kept == before != after
    # HubSpot revokes no issued access token on refresh: the kept one still worked while it was served.
    assert accepted_by_hubspot(sandbox, before) and accepted_by_hubspot(sandbox, after)


def test_a_token_within_the_cache_time_of_its_expiry_is_never_served_from_the_cache(
        ctx: AppContext, hub: int, key: ApiKeyInfo) -> None:
    reads: list[int] = []
    tokens = PortalTokens(*counted(TokenApi(ctx), reads), ttl=1900, app=ctx.app_id)  # longer than the token's 1800 s

    async def go() -> None:
        for _ in range(3):
            await tokens.get(key, hub)

    asyncio.run(go())
    assert reads == [hub, hub, hub]


def test_forget_drops_the_token_and_a_read_begun_before_it_is_not_kept(
        ctx: AppContext, hub: int, key: ApiKeyInfo) -> None:
    api = TokenApi(ctx)
    reads: list[int] = []

    async def go() -> None:
        gate = asyncio.Event()

        async def slow_read(k: ApiKeyInfo, hub_id: int) -> IssuedToken:
            reads.append(hub_id)
            if len(reads) == 1:
                await gate.wait()  # this read began before HubSpot's 401 made the proxy forget the token
            return await api.access_token_async(k, hub_id, action="")

        tokens = PortalTokens(slow_read, lambda k, h: api.access_token(k, h, action=""), ttl=60, app=ctx.app_id)
        first = asyncio.ensure_future(tokens.get(key, hub))
        await asyncio.sleep(0.05)
        tokens.forget(hub)
        gate.set()
        await first
        await tokens.get(key, hub)  # not served from the cache: the first read was older than forget()
        await tokens.get(key, hub)  # kept now
        assert reads == [hub, hub]

    asyncio.run(go())


def test_a_key_that_may_not_see_the_portal_gets_404_even_while_its_token_is_kept(
        ctx: AppContext, hub: int, key: ApiKeyInfo) -> None:
    elsewhere = api_keys.create_key(ctx, actor=ADMIN, name="elsewhere", hub_ids=[hub + 1]).info
    tokens = PortalTokens(*counted(TokenApi(ctx), []), app=ctx.app_id)

    async def go() -> None:
        await tokens.get(key, hub)
        with pytest.raises(NotFoundError):
            await tokens.get(elsewhere, hub)

    asyncio.run(go())
    with pytest.raises(NotFoundError):
        tokens.get_blocking(elsewhere, hub)


def refused_within(call: Callable[[], httpx.Response], status: int, seconds: float) -> float:
    """Seconds until ``call`` answered ``status`` (polled), failing past ``seconds``."""
    started = time.monotonic()
    while (resp := call()).status_code != status:
        assert resp.status_code == 200, resp.text
        assert time.monotonic() - started < seconds, f"still {resp.status_code} after {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.slow
def test_a_revoked_key_and_a_revoked_portal_are_refused_within_the_cache_times(
        ctx: AppContext, hub: int, make_api: Callable[..., Api]) -> None:
    api = make_api()
    other = make_api()
    assert api.call("GET", hub, CONTACTS).status_code == 200
    prefix = api.key.split("_")[1]
    api_keys.revoke_key(ctx, actor=ADMIN, prefix=prefix)
    waited = refused_within(lambda: api.call("GET", hub, CONTACTS), 401, 5.0)  # the bound
    assert waited <= KEY_CACHE_SECONDS + 1

    assert other.call("GET", hub, CONTACTS).status_code == 200
    connections.revoke(ctx, hub, actor=ADMIN, local_only=True)
    waited = refused_within(lambda: other.call("GET", hub, CONTACTS), 409, 5.0)
    assert waited <= TOKEN_CACHE_SECONDS + 1
    body: dict[str, Any] = other.call("GET", hub, CONTACTS).json()
    assert body["error"] == "revoked"
