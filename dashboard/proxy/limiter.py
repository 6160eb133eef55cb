"""Moving-window rate limits on the ``limits`` library, in Redis when replicas must share them.

Storage: ``DASHBOARD_LOCK_URL`` a ``redis://`` URL gives limits' ``RedisStorage`` (its moving window is one
Lua script, atomic across replicas); otherwise ``MemoryStorage`` (one process). A window's key leaves out its
amount, so replicas that know different limits for a portal (one learned HubSpot's 110, another still uses
100) count in the same window and the smaller limit always holds.

On the server's event loop (the HTTP proxy, the API's key check) a Redis window is taken with limits' async
storage over ``redis.asyncio`` (:meth:`WindowLimiter.take_async`): the same keys and Lua scripts as the
blocking storage, so both count in one window, and a slow Redis round trip holds up only its own call, not
every call on the loop. Its connections belong to the loop that opened them: one storage per loop. In
memory there is no I/O, and ``take_async`` is the plain call.

A portal's window is HubSpot's interval plus one second: HubSpot counts when a request arrives, we count
when it leaves, and the extra second absorbs that difference so our window never lets through more than
HubSpot's does.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import weakref
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindowRateLimiter
from limits.errors import StorageError as LimitsStorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from dashboard.errors import StorageError
from dashboard.proxy.paths import DEFAULT_WINDOW, Window
from dashboard.settings import Settings

MAX_WINDOW_S = 86_400


class _SharedWindow(RateLimitItemPerSecond):
    """A window whose storage key ignores the amount: every limit for the same identifiers shares it."""

    def key_for(self, *identifiers: bytes | str | int | float) -> str:
        return "/".join([self.namespace, *(str(i) for i in identifiers), str(self.multiples)])


class WindowMemoryStorage(MemoryStorage):
    """limits' memory storage for moving windows only, without its expiry timer.

    ``MemoryStorage`` starts a ``threading.Timer`` (a new thread) whenever the last one has finished, i.e.
    on nearly every call when calls are more than 10 ms apart: about 4 ms per call here, twice the proxy's
    whole overhead budget. A moving window only ever reads its newest ``limit`` entries, so each window
    is trimmed to that many when it is written instead: memory stays bounded (windows x limit entries).
    """

    def _MemoryStorage__schedule_expiry(self) -> None:
        return None

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        granted = super().acquire_entry(key, limit, expiry, amount)
        with self.locks[key]:
            del self.events.get(key, [])[limit:]
        return granted


def build_storage(settings: Settings, *, prefix: str | None = None) -> Storage:
    """Redis (shared by replicas) when DASHBOARD_LOCK_URL is set, else memory (this process only)."""
    url = settings.dashboard_lock_url
    if url is None:
        return WindowMemoryStorage()
    key_prefix = f"{prefix or settings.dashboard_lock_prefix}:limits:{settings.dashboard_app_id}"
    return RedisStorage(url.get_secret_value(), key_prefix=key_prefix, wrap_exceptions=True,
                        socket_timeout=2, socket_connect_timeout=2)


AsyncStorageMaker = Callable[[], AsyncStorage]


def build_async_storage(settings: Settings, *, prefix: str | None = None) -> AsyncStorageMaker | None:
    """What makes the event loop's twin of :func:`build_storage`'s Redis storage (called once per loop), or
    None in memory (no I/O: the blocking storage serves the loop too)."""
    url = settings.dashboard_lock_url
    if url is None:
        return None
    key_prefix = f"{prefix or settings.dashboard_lock_prefix}:limits:{settings.dashboard_app_id}"
    secret = url.get_secret_value()

    def make() -> AsyncStorage:
        return AsyncRedisStorage(f"async+{secret}", implementation="redispy", key_prefix=key_prefix,
                                 wrap_exceptions=True, socket_timeout=2, socket_connect_timeout=2)

    return make


class WindowLimiter:
    """``take`` a slot in a moving window: 0 when granted, else the seconds until one frees up."""

    def __init__(self, storage: Storage, async_storage: AsyncStorageMaker | None = None) -> None:
        self.storage = storage
        self._windows = MovingWindowRateLimiter(storage)
        self._make_async = async_storage
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncMovingWindowRateLimiter] = \
            weakref.WeakKeyDictionary()

    def take(self, *ids: str, limit: int, window_s: int) -> float:
        item = _SharedWindow(limit, max(1, min(window_s, MAX_WINDOW_S)))
        try:
            if self._windows.hit(item, *ids):
                return 0.0
            reset_at, _ = self._windows.get_window_stats(item, *ids)
        except LimitsStorageError as exc:
            raise StorageError("the rate-limit store (Redis) is unavailable") from exc
        # The window frees a slot when its oldest entry expires; never 0, so callers see a wait.
        return max(0.001, reset_at - time.time())

    def _loop_windows(self) -> AsyncMovingWindowRateLimiter | None:
        if self._make_async is None:
            return None
        loop = asyncio.get_running_loop()
        windows = self._async.get(loop)
        if windows is None:
            windows = self._async[loop] = AsyncMovingWindowRateLimiter(self._make_async())
        return windows

    async def take_async(self, *ids: str, limit: int, window_s: int) -> float:
        """:meth:`take` on the event loop (Redis without blocking the loop)."""
        windows = self._loop_windows()
        if windows is None:
            return self.take(*ids, limit=limit, window_s=window_s)
        item = _SharedWindow(limit, max(1, min(window_s, MAX_WINDOW_S)))
        try:
            if await windows.hit(item, *ids):
                return 0.0
            reset_at, _ = await windows.get_window_stats(item, *ids)
        except LimitsStorageError as exc:
            raise StorageError("the rate-limit store (Redis) is unavailable") from exc
        return max(0.001, reset_at - time.time())

    def fill(self, *ids: str, limit: int, window_s: int) -> None:
        """Use up what is left of the window (HubSpot said 429: pause until the window rolls on)."""
        item = _SharedWindow(limit, max(1, min(window_s, MAX_WINDOW_S)))
        try:
            _, remaining = self._windows.get_window_stats(item, *ids)
            if remaining > 0:
                self._windows.hit(item, *ids, cost=remaining)
        except LimitsStorageError as exc:
            raise StorageError("the rate-limit store (Redis) is unavailable") from exc

    async def fill_async(self, *ids: str, limit: int, window_s: int) -> None:
        """:meth:`fill` on the event loop."""
        windows = self._loop_windows()
        if windows is None:
            self.fill(*ids, limit=limit, window_s=window_s)
            return
        item = _SharedWindow(limit, max(1, min(window_s, MAX_WINDOW_S)))
        try:
            _, remaining = await windows.get_window_stats(item, *ids)
            if remaining > 0:
                await windows.hit(item, *ids, cost=remaining)
        except LimitsStorageError as exc:
            raise StorageError("the rate-limit store (Redis) is unavailable") from exc


class PortalLimiter:
    """HubSpot's burst window per portal, learned from its headers (100 per 10 s until known)."""

    def __init__(self, windows: WindowLimiter, *, app: str) -> None:
        self.windows = windows
        self.app = app
        self._known: dict[int, Window] = {}
        self._lock = threading.Lock()

    def window(self, hub_id: int) -> Window:
        with self._lock:
            return self._known.get(hub_id, DEFAULT_WINDOW)

    def learn(self, hub_id: int, window: Window | None) -> None:
        if window is not None:
            with self._lock:
                self._known[hub_id] = window

    @staticmethod
    def _seconds(window: Window) -> int:
        return math.ceil(window.interval_ms / 1000) + 1

    def take(self, hub_id: int) -> float:
        """0: the call may go to HubSpot now; else seconds until it may (nothing is counted then)."""
        window = self.window(hub_id)
        return self.windows.take("hubspot", self.app, str(hub_id), limit=window.limit,
                                 window_s=self._seconds(window))

    def pause(self, hub_id: int) -> None:
        """HubSpot answered 429: no more calls for this portal until its window frees up again."""
        window = self.window(hub_id)
        self.windows.fill("hubspot", self.app, str(hub_id), limit=window.limit, window_s=self._seconds(window))

    async def take_async(self, hub_id: int) -> float:
        window = self.window(hub_id)
        return await self.windows.take_async("hubspot", self.app, str(hub_id), limit=window.limit,
                                             window_s=self._seconds(window))

    async def pause_async(self, hub_id: int) -> None:
        window = self.window(hub_id)
        await self.windows.fill_async("hubspot", self.app, str(hub_id), limit=window.limit,
                                      window_s=self._seconds(window))
