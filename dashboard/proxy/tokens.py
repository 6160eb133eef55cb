"""The access tokens the HTTP proxy sends, kept per portal for at most :data:`TOKEN_CACHE_SECONDS`.

Without it every proxied call read the portal's row and decrypted its token through the token API's reader
thread: a hand-off to that thread and back per batch, and a commit of the read counts, on the hot path.

Correctness, what we chose (docs/proxy.md, "Tokens"):

* A token comes from the token API (:meth:`dashboard.tokens.service.TokenApi.access_token_async`: the database,
  decrypted; a token inside the leeway refreshed first, single-flight under the portal's lease; handed in as
  ``read`` / ``read_blocking``, the token API sits above this package) and is kept as that answer was:
  for :data:`TOKEN_CACHE_SECONDS` (2 s), never longer. So the proxy sends what the token API would have
  answered at most 2 s earlier: a portal revoked, re-consented or sent to re-auth by another process is seen
  within 2 s, like a revoked API key (:data:`dashboard.admin.api_keys.KEY_CACHE_SECONDS`).
* A token refreshed by another process: the one we keep is still valid at HubSpot until its own expiry
  (HubSpot revokes refresh tokens, never issued access tokens), and a kept token is never sent within
  :data:`TOKEN_CACHE_SECONDS` of its expiry: past that it is read again, whatever its age. So nothing
  stale is ever sent past its expiry, and with the default 300 s leeway the database path refreshes a
  token long before the cache could come near it.
* HubSpot's 401 ``EXPIRED_AUTHENTICATION`` drops the portal's entry (:meth:`forget`) before the proxy's one
  refresh and retry.
* Read ahead: once an entry is half its time old, the call that finds it still gets it and starts one
  background read of the portal (on the event loop, through the token API's reader like any miss). Without
  it, every 2 s each portal's calls all missed at once and waited for that read together: 50 ms at a load
  of 5 (the reader thread waits for the GIL at every step while the loop is busy), the p95 of a 100 calls/s
  run. A background read that fails (a portal revoked meanwhile) drops the entry: the next call reads the
  database itself and answers the error.

The reads are not counted as ``api.token`` reads in the audit log: no token leaves the process; the
proxy counts every call itself (:mod:`dashboard.proxy.usage`, and the portal's timeline).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from dashboard.admin.api_keys import ApiKeyInfo, check_portal
from dashboard.errors import DashboardError
from dashboard.models import utcnow

TOKEN_CACHE_SECONDS = 2.0
MAX_ENTRIES = 100_000  # bounded: one per portal called in the last 2 s


class IssuedToken(Protocol):
    """What the token API answers (:class:`dashboard.tokens.service.AccessToken`)."""

    @property
    def hub_id(self) -> int: ...
    @property
    def access_token(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...


class PortalTokens:
    """This process's kept tokens (one event loop's, or several threads': entries are replaced whole).

    ``read`` / ``read_blocking``: the token API's read of a key's token for a portal, not counted as a
    token read (``TokenApi.access_token_async(key, hub_id, action="")`` and its blocking twin)."""

    def __init__(self, read: Callable[[ApiKeyInfo, int], Awaitable[IssuedToken]],
                 read_blocking: Callable[[ApiKeyInfo, int], IssuedToken], ttl: float = TOKEN_CACHE_SECONDS,
                 *, app: str) -> None:
        self.app = app  # the one app whose portals these are (hub ids repeat across apps)
        self.read = read
        self.read_blocking = read_blocking
        self.ttl = ttl
        self._entries: dict[int, tuple[IssuedToken, float]] = {}
        self._forgotten: dict[int, float] = {}  # a read begun before forget() must not bring the old token back
        self._ahead: dict[int, asyncio.Task[None]] = {}  # the background reads in flight, one per portal

    def _kept(self, hub_id: int) -> tuple[str, float] | None:
        """The kept token and its age, while it may be served."""
        entry = self._entries.get(hub_id)
        if entry is None:
            return None
        token, fetched = entry
        age = time.monotonic() - fetched
        if age >= self.ttl or token.expires_at - utcnow() <= timedelta(seconds=self.ttl):
            return None
        return token.access_token, age

    def _keep(self, token: IssuedToken, fetched: float) -> str:
        if fetched <= self._forgotten.get(token.hub_id, float("-inf")):
            return token.access_token  # answered to its caller, not kept
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token.hub_id] = (token, fetched)
        return token.access_token

    async def get(self, key: ApiKeyInfo, hub_id: int) -> str:
        """The portal's access token for ``key`` (404 for a portal the key may not see, as the token API)."""
        check_portal(key, hub_id, app=self.app)  # per call: the entry is the portal's, not the key's
        kept = self._kept(hub_id)
        if kept is not None:
            token, age = kept
            if age >= self.ttl / 2 and hub_id not in self._ahead:
                self._ahead[hub_id] = asyncio.get_running_loop().create_task(self._read_ahead(key, hub_id))
            return token
        fetched = time.monotonic()
        return self._keep(await self.read(key, hub_id), fetched)

    async def _read_ahead(self, key: ApiKeyInfo, hub_id: int) -> None:
        fetched = time.monotonic()
        try:
            self._keep(await self.read(key, hub_id), fetched)
        except DashboardError:  # revoked, needs re-auth, the database away: the next call reads and answers it
            entry = self._entries.get(hub_id)
            if entry is not None and entry[1] < fetched:  # no newer read was kept meanwhile
                self._entries.pop(hub_id, None)
        finally:
            self._ahead.pop(hub_id, None)

    def get_blocking(self, key: ApiKeyInfo, hub_id: int) -> str:
        """:meth:`get` for a thread (the blocking proxy path)."""
        check_portal(key, hub_id, app=self.app)
        kept = self._kept(hub_id)
        if kept is not None:
            return kept[0]
        fetched = time.monotonic()
        return self._keep(self.read_blocking(key, hub_id), fetched)

    def forget(self, hub_id: int) -> None:
        """Drop the portal's token (HubSpot said it expired): the next call reads the database again."""
        if len(self._forgotten) >= MAX_ENTRIES:
            self._forgotten.clear()
        self._forgotten[hub_id] = time.monotonic()
        self._entries.pop(hub_id, None)
