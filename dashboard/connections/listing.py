"""Connections listed by the database: tiles, chart, filtered count and one page of rows at one instant.

Used by the Connections page, the CLI (``connections --json --limit --after``), the CSV export and any
other portal list (a token API): :func:`list_page` is the one listing. Python only ever holds one page of
rows; counting, filtering, sorting and paging happen in SQL with indexes, so the cost of a page does not
grow with the number of portals (bench/connections_page.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dashboard import repository
from dashboard.actors import Actor
from dashboard.connections.service import Connection, connection_from_row
from dashboard.context import AppContext
from dashboard.errors import InputError
from dashboard.models import utcnow
from dashboard.security.guard import require
from dashboard.status import DISCONNECTED, STATUSES, fresh_since

SORTS = {
    "problems": "Status (problems first)", "expires": "Expires soonest", "hub_id": "Hub id",
    "domain": "Domain", "last_refresh": "Last refresh (newest)", "installed": "Installed (newest)",
}
DEFAULT_SORT = "problems"
MAX_LIMIT = 1000
HISTOGRAM_BUCKET = timedelta(minutes=5)
HISTOGRAM_BUCKETS = 12


@dataclass(frozen=True)
class Filters:
    search: str = ""
    statuses: tuple[str, ...] = ()
    scope: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.search.strip() or self.statuses or (self.scope or "").strip())


@dataclass(frozen=True)
class Overview:
    """Every portal at ``now``: one count per display status (every known status present) and the expiry
    histogram (tokens expiring in each 5-minute bucket of the next hour)."""

    now: datetime
    counts: dict[str, int]
    histogram: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def connected(self) -> int:
        return self.total - sum(self.counts.get(s, 0) for s in DISCONNECTED)


@dataclass(frozen=True)
class Page:
    """One page of the filtered, sorted listing at ``now``; ``total`` is the filtered count."""

    now: datetime
    rows: list[Connection]
    total: int
    offset: int
    limit: int
    _by_hub: dict[int, Connection] = field(default_factory=dict, repr=False)

    @property
    def next_after(self) -> int | None:
        """The ``after`` for the next page when sorted by hub id (None on the last page)."""
        return self.rows[-1].hub_id if len(self.rows) == self.limit else None

    def connection(self, hub_id: int) -> Connection | None:
        if not self._by_hub:
            self._by_hub.update((c.hub_id, c) for c in self.rows)
        return self._by_hub.get(hub_id)


def _leeway(ctx: AppContext) -> timedelta:
    return timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)


def _fresh_after(ctx: AppContext, now: datetime) -> datetime:
    return fresh_since(now, ctx.settings.dashboard_worker_interval_seconds)


def _check(filters: Filters, sort: str, limit: int) -> None:
    if sort not in SORTS:
        raise InputError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    unknown = [s for s in filters.statuses if s not in STATUSES]
    if unknown:
        raise InputError(f"unknown status {unknown[0]!r}; one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}")


def overview(ctx: AppContext, *, actor: Actor, now: datetime | None = None) -> Overview:
    """Tiles and chart data: one aggregate and one index range scan, both at ``now``."""
    require(ctx.engine, actor, "view", action="connections.list")
    now = now or utcnow()
    with ctx.session() as session:
        found = repository.display_status_counts(session=session, now=now, leeway=_leeway(ctx),
                                                 fresh_after=_fresh_after(ctx, now))
        histogram = repository.expiry_histogram_counts(session=session, now=now, bucket=HISTOGRAM_BUCKET,
                                                       buckets=HISTOGRAM_BUCKETS)
    counts = {s: 0 for s in STATUSES}
    counts.update(found)
    return Overview(now=now, counts=counts, histogram=histogram)


def list_page(ctx: AppContext, *, actor: Actor, filters: Filters = Filters(), sort: str = DEFAULT_SORT,
              limit: int = 100, offset: int = 0, after: int | None = None, now: datetime | None = None,
              with_total: bool = True) -> Page:
    """One page of connections matching ``filters`` in ``sort`` order, statuses evaluated at ``now``.

    Page with ``offset`` (any sort) or with ``after`` = the last hub id seen (keyset; sort ``hub_id``)."""
    require(ctx.engine, actor, "view", action="connections.list")
    _check(filters, sort, limit)
    if after is not None and sort != "hub_id":
        raise InputError("'after' pages by hub id: use sort 'hub_id' (or offset)")
    now, leeway = now or utcnow(), _leeway(ctx)
    fresh_after = _fresh_after(ctx, now)
    where = repository.listing_filters(now=now, leeway=leeway, search=filters.search, statuses=filters.statuses,
                                       scope=filters.scope, app=ctx.app_id, fresh_after=fresh_after)
    with ctx.session() as session:
        where = [*where, *repository.app_terms(session)]  # this app's connections (same hub id: other rows)
        if filters.search.strip() and after is None:  # the search reads every row: one scan, one top-N sort
            ids = repository.listing_page_ids_by_order(session=session, where=where, limit=limit, offset=offset,
                                                       order=repository.listing_order(sort, now, leeway, fresh_after))
        else:
            ids = repository.listing_page_ids(session=session, where=where, limit=limit, offset=offset,
                                              after=after, statuses=filters.statuses,
                                              segments=repository.listing_segments(sort, now, leeway))
        rows = repository.portal_rows_by_id(session=session, hub_ids=ids)
        total = repository.count_listing(session=session, where=where) if with_total else -1
    return Page(now=now, rows=[connection_from_row(r, now, leeway, fresh_after) for r in rows], total=total,
                offset=offset, limit=limit)


def iter_connections(ctx: AppContext, *, actor: Actor, filters: Filters = Filters(), batch: int = 500,
                     now: datetime | None = None) -> Iterator[Connection]:
    """Every connection matching ``filters`` by hub id, read ``batch`` rows at a time (constant memory)."""
    now = now or utcnow()
    after: int | None = None
    while True:
        page = list_page(ctx, actor=actor, filters=filters, sort="hub_id", limit=batch, after=after, now=now,
                         with_total=False)
        yield from page.rows
        after = page.next_after
        if after is None:
            return


def find_hub(ctx: AppContext, *, actor: Actor, text: str) -> int | None:
    """The hub id that ``text`` names: a hub id, a domain or a pasted ``https://domain/...`` exactly, else the
    one portal the search matches (a domain fragment, an installer's email); None when it matches several."""
    wanted = repository.normalize_search(text)
    if not wanted:
        return None
    rows = list_page(ctx, actor=actor, filters=Filters(search=wanted), sort="hub_id", limit=20,
                     with_total=False).rows
    for conn in rows:
        if str(conn.hub_id) == wanted or (conn.hub_domain or "").lower() == wanted:
            return conn.hub_id
    return rows[0].hub_id if len(rows) == 1 else None
    for conn in list_page(ctx, actor=actor, filters=Filters(search=wanted), sort="hub_id", limit=20,
                          with_total=False).rows:
        if str(conn.hub_id) == wanted or (conn.hub_domain or "").lower() == wanted:
            return conn.hub_id
    return None
