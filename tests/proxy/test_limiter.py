"""The per-portal and per-key limiters on ``limits``: never more than the window allows, in memory and
shared through a real Redis by two limiter instances (two replicas)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits.storage import RedisStorage, Storage

from dashboard.proxy.limiter import (
    PortalLimiter,
    WindowLimiter,
    WindowMemoryStorage,
    build_async_storage,
    build_storage,
)
from dashboard.proxy.paths import Window
from dashboard.settings import load_settings
from dashboard.tokens.service import RateLimiter

WINDOW_S = 1


def _certainly_over(granted: list[tuple[float, float]], limit: int, width: float) -> list[tuple[float, float]]:
    """``limit + 1`` grants that certainly fell inside one window of ``width``, or [] if none did.

    Each grant is known only to lie between the moment its take started and the moment it returned (a busy
    machine can pause a thread between the limiter's own clock reading and ours, for longer than any fixed
    slack), so a group proves a breach only when even its widest reading, last return minus first start, is
    shorter than the window.
    """
    ordered = sorted(granted)
    for i in range(len(ordered) - limit):
        group = ordered[i:i + limit + 1]
        if max(after for _, after in group) - group[0][0] < width:
            return group
    return []


def _bursts(limiters: list[WindowLimiter], ident: str, limit: int,
            bursts: list[tuple[int, float]]) -> list[tuple[float, float]]:
    """Random bursts from as many threads as limiters; when each granted take started and returned."""
    granted: list[tuple[float, float]] = []
    lock = threading.Lock()

    def one(limiter: WindowLimiter, size: int) -> None:
        for _ in range(size):
            started = time.time()
            if limiter.take(ident, limit=limit, window_s=WINDOW_S) == 0:
                returned = time.time()
                with lock:
                    granted.append((started, returned))

    for size, gap in bursts:
        threads = [threading.Thread(target=one, args=(lim, size)) for lim in limiters]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(gap)
    return granted


def _check(granted: list[tuple[float, float]], limit: int) -> None:
    assert _certainly_over(granted, limit, WINDOW_S) == []


BURSTS = st.lists(st.tuples(st.integers(1, 30), st.floats(0, 0.4)), min_size=1, max_size=6)


@given(limit=st.integers(1, 25), bursts=BURSTS)
@settings(max_examples=12, deadline=None)
def test_memory_window_never_exceeds_its_limit(limit: int, bursts: list[tuple[int, float]]) -> None:
    limiter = WindowLimiter(WindowMemoryStorage())
    _check(_bursts([limiter], "p", limit, bursts), limit)


@pytest.fixture
def redis_storage(redis_url: str, redis_prefix: str) -> Storage:
    return RedisStorage(redis_url, key_prefix=redis_prefix.rstrip(":"), wrap_exceptions=True)


@pytest.mark.redis
@given(limit=st.integers(1, 25), bursts=BURSTS, run=st.uuids())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_two_replicas_share_one_window_in_redis(redis_url: str, redis_prefix: str, limit: int,
                                                bursts: list[tuple[int, float]], run: object) -> None:
    """Two limiter instances with their own Redis connections (two replicas) never exceed one window."""
    a = WindowLimiter(RedisStorage(redis_url, key_prefix=redis_prefix.rstrip(":"), wrap_exceptions=True))
    b = WindowLimiter(RedisStorage(redis_url, key_prefix=redis_prefix.rstrip(":"), wrap_exceptions=True))
    granted = _bursts([a, b], f"p-{run}", limit, bursts)
    _check(granted, limit)
    assert granted  # the first take of a fresh window always goes through


@pytest.mark.redis
def test_replicas_knowing_different_limits_count_in_one_window(redis_storage: Storage) -> None:
    a, b = PortalLimiter(WindowLimiter(redis_storage), app="t"), PortalLimiter(WindowLimiter(redis_storage), app="t")
    a.learn(7, Window(5, 10_000))  # a learned HubSpot's window; b still uses the default 100 per 10 s
    assert sum(b.take(7) == 0 for _ in range(3)) == 3
    assert sum(a.take(7) == 0 for _ in range(5)) == 2  # a sees b's three calls
    a.pause(7)
    b.learn(7, Window(5, 10_000))
    assert b.take(7) > 0


def test_pause_fills_the_window_and_wait_is_honest() -> None:
    limiter = PortalLimiter(WindowLimiter(WindowMemoryStorage()), app="t")
    limiter.learn(1, Window(3, 1000))
    assert limiter.take(1) == 0
    limiter.pause(1)
    wait = limiter.take(1)
    assert 0 < wait <= 2.0 + 0.01  # the window is the interval plus one second
    time.sleep(wait + 0.01)
    assert limiter.take(1) == 0


def test_token_api_key_limiter_keeps_its_interface_and_budget() -> None:
    limiter = RateLimiter(5)
    waits = [limiter.take("k") for _ in range(8)]
    assert waits[:5] == [0.0] * 5
    assert all(0 < w <= 60 for w in waits[5:])
    assert limiter.take("other", time.monotonic()) == 0  # keys have their own windows; now= still accepted


@pytest.mark.redis
@given(limit=st.integers(1, 12), takes=st.lists(st.booleans(), min_size=1, max_size=30), run=st.uuids())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_event_loops_redis_window_is_the_blocking_ones(redis_url: str, redis_prefix: str, limit: int,
                                                          takes: list[bool], run: object) -> None:
    """Takes on the event loop (limits' async storage, redis.asyncio) and blocking ones (the console, the CLI,
    another replica) count in one window: never more than ``limit`` granted, in any order."""
    settings_like = load_settings({}, secrets_path=None, dashboard_lock_url=redis_url,
                                  dashboard_lock_prefix=redis_prefix.rstrip(":"))
    limiter = WindowLimiter(build_storage(settings_like), build_async_storage(settings_like))

    async def go() -> list[float]:
        return [await limiter.take_async(f"p-{run}", limit=limit, window_s=60) if on_loop
                else limiter.take(f"p-{run}", limit=limit, window_s=60) for on_loop in takes]

    waits = asyncio.run(go())
    assert waits[:limit] == [0.0] * min(limit, len(takes))
    assert all(0 < w <= 60 for w in waits[limit:])


@pytest.mark.redis
def test_pause_on_the_event_loop_fills_the_shared_window(redis_url: str, redis_prefix: str) -> None:
    settings_like = load_settings({}, secrets_path=None, dashboard_lock_url=redis_url,
                                  dashboard_lock_prefix=redis_prefix.rstrip(":"))

    def portal() -> PortalLimiter:
        limiter = PortalLimiter(WindowLimiter(build_storage(settings_like), build_async_storage(settings_like)),
                                app="t")
        limiter.learn(3, Window(10, 10_000))
        return limiter

    here, there = portal(), portal()

    async def go() -> None:
        assert await here.take_async(3) == 0
        await here.pause_async(3)  # HubSpot said 429 to this replica

    asyncio.run(go())
    assert there.take(3) > 0  # the other replica waits too
