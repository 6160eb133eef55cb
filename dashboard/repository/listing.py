"""The connections listing (the Connections page, the CLI, the token API): filters, sort segments, pages, counts.

The database does the counting: a page's cost is one page and a few index scans, whatever the number of
portals. The display status is dashboard.status.display_status written as a CASE, evaluated at the one
instant ``now`` the caller passes to every query of a page.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, union_all
from sqlmodel import Session, col

from dashboard import status as status_rule
from dashboard.models import DEFAULT_APP, Portal, PortalStatus
from dashboard.repository._common import _SCOPES, LISTING_COLUMNS, app_terms, session_app


def _recently_refreshed(fresh_after: datetime | None) -> ColumnElement[bool]:
    """Refreshed successfully after ``fresh_after`` (see dashboard.status.display_status); never when None."""
    if fresh_after is None:
        return literal(False)
    return and_(col(Portal.last_refresh_result) == "success", col(Portal.last_refresh_at) >= fresh_after)


def _not_recently_refreshed(fresh_after: datetime | None) -> ColumnElement[bool]:
    """The negation of :func:`_recently_refreshed`, NULL-safe (a NULL column makes NOT(...) NULL in SQL)."""
    if fresh_after is None:
        return literal(True)
    result, at = col(Portal.last_refresh_result), col(Portal.last_refresh_at)
    return or_(result.is_(None), result != "success", at.is_(None), at < fresh_after)


def display_status_sql(now: datetime, leeway: timedelta, fresh_after: datetime | None = None) -> ColumnElement[str]:
    """``dashboard.status.display_status`` as SQL (a hypothesis test holds the two equal)."""
    expires = col(Portal.expires_at)
    return case(
        (col(Portal.status) != status_rule.ACTIVE, col(Portal.status)),
        (col(Portal.last_refresh_result).in_(status_rule.KEY_PROBLEMS), col(Portal.last_refresh_result)),
        (or_(expires.is_(None), expires <= now), "expired"),
        (and_(expires <= now + leeway, _not_recently_refreshed(fresh_after)), "expiring"),
        else_="healthy",
    )


_KNOWN_STORED = (status_rule.ACTIVE, PortalStatus.NEEDS_REAUTH, PortalStatus.REFRESH_FAILING, PortalStatus.REVOKED,
                 PortalStatus.UNINSTALLED, *status_rule.KEY_PROBLEMS)


@dataclass(frozen=True)
class Segment:
    """A run of one sort order: the rows matching any of ``parts`` (each a list of WHERE terms one index
    range serves), in ``order``. A segment of several parts is ordered by hub id only. ``statuses``: the
    display statuses its rows can have (a status filter skips the other segments)."""

    statuses: frozenset[str]
    parts: list[list[ColumnElement[bool]]]
    order: list[Any]


def _freshness_rows() -> list[ColumnElement[bool]]:
    """Active portals without a key problem: their display status is decided by expires_at alone."""
    result = col(Portal.last_refresh_result)
    return [col(Portal.status) == status_rule.ACTIVE,
            or_(result.is_(None), result.not_in(status_rule.KEY_PROBLEMS))]


def status_predicate(status: str, now: datetime, leeway: timedelta,
                     fresh_after: datetime | None = None) -> ColumnElement[bool]:
    """Rows whose display status at ``now`` is ``status``, written so an index range serves it (the CASE of
    :func:`display_status_sql` would make every filter a scan). ``"other"``: stored statuses nobody knows."""
    stored, expires = col(Portal.status), col(Portal.expires_at)
    if status in status_rule.KEY_PROBLEMS:
        return or_(stored == status, and_(stored == status_rule.ACTIVE, col(Portal.last_refresh_result) == status))
    if status == "expired":  # two ranges of ix_portal_view, not one OR over every active row
        return or_(and_(*_freshness_rows(), expires.is_(None)), and_(*_freshness_rows(), expires <= now))
    if status == "expiring":
        return and_(*_freshness_rows(), expires > now, expires <= now + leeway, _not_recently_refreshed(fresh_after))
    if status == "healthy" and fresh_after is not None:
        return or_(and_(*_freshness_rows(), expires > now + leeway),
                   and_(*_freshness_rows(), expires > now, expires <= now + leeway, _recently_refreshed(fresh_after)))
    if status == "healthy":
        return and_(*_freshness_rows(), expires > now + leeway)
    if status == "other":
        return stored.not_in(_KNOWN_STORED)
    return stored == status


def normalize_search(text: str | None) -> str:
    """What a person pastes, reduced to what is stored: ``https://wayne.hubspot.com/contacts`` -> the domain."""
    text = (text or "").strip().lower()
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix):].split("/", 1)[0]
    return text.rstrip("/")


def listing_filters(*, now: datetime, leeway: timedelta, search: str | None = None,
                    statuses: Sequence[str] = (), scope: str | None = None,
                    app: str = DEFAULT_APP, fresh_after: datetime | None = None) -> list[ColumnElement[bool]]:
    """WHERE terms: search (hub id, domain or email), display statuses at ``now``, granted scope."""
    where: list[ColumnElement[bool]] = []
    text = normalize_search(search)
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        conds: list[ColumnElement[bool]] = [
            func.lower(col(Portal.hub_domain)).like(like), func.lower(col(Portal.installed_by)).like(like),
        ]
        if text.isdigit() and len(text) < 19:
            conds.append(col(Portal.hub_id) == int(text))
        where.append(or_(*conds))
    if not statuses:  # uninstalled portals are listed only when a status filter asks for them
        where.append(col(Portal.status).not_in(list(status_rule.HIDDEN_BY_DEFAULT)))
    if statuses and text:  # a search reads every row anyway: one CASE per row beats an index walk + lookups
        where.append(display_status_sql(now, leeway, fresh_after).in_([*statuses]))
    elif statuses:
        where.append(or_(*(status_predicate(s, now, leeway, fresh_after) for s in statuses)))
    if scope and scope.strip():
        # Correlated: the sort's index drives and each row probes portal_scope's primary key (app, scope,
        # hub_id), so a page stops after its rows instead of first collecting every portal with the scope.
        # ``app`` is the listing's app as a constant: comparing portal.app (the row's last column) per row
        # made a filtered scan of 100,000 portals twice as slow.
        where.append(select(_SCOPES.c.hub_id).where(_SCOPES.c.app == app,
                                                    _SCOPES.c.scope == scope.strip(),
                                                    _SCOPES.c.hub_id == col(Portal.hub_id)).exists())
    return where


def _status_parts(status: str, now: datetime, leeway: timedelta) -> list[list[ColumnElement[bool]]]:
    """:func:`status_predicate` as index ranges (an OR of them makes SQLite scan the primary key)."""
    stored = col(Portal.status)
    if status in status_rule.KEY_PROBLEMS:
        return [[stored == status], [stored == status_rule.ACTIVE, col(Portal.last_refresh_result) == status]]
    if status == "other":  # not one of the known stored statuses: the gaps between them
        known = sorted(_KNOWN_STORED)
        gaps = [[stored < known[0]], [stored > known[-1]]]
        return gaps + [[stored > low, stored < high] for low, high in itertools.pairwise(known)]
    return [[status_predicate(status, now, leeway)]]


def listing_segments(sort: str, now: datetime, leeway: timedelta) -> list[Segment]:
    """A sort order (dashboard.connections.listing.SORTS) as consecutive segments, each read in index order: a page
    never sorts every row. Hub id breaks ties (descending in the "newest" orders).

    "problems" follows dashboard.status.problems_key: the problem states by rank, then active portals by
    expiry (expired, expiring, healthy: the order of their expires_at), then revoked ones."""
    hub = col(Portal.hub_id)
    every = frozenset([*status_rule.STATUSES, "other"])

    def nulls_last(column: Any, *, newest: bool = False) -> list[Segment]:
        if newest:
            return [Segment(every, [[column.is_not(None)]], [column.desc(), hub.desc()]),
                    Segment(every, [[column.is_(None)]], [hub.desc()])]
        return [Segment(every, [[column.is_not(None)]], [column, hub]), Segment(every, [[column.is_(None)]], [hub])]

    simple = {"hub_id": [Segment(every, [[]], [hub])], "expires": nulls_last(col(Portal.expires_at)),
              "domain": nulls_last(col(Portal.hub_domain)),
              "last_refresh": nulls_last(col(Portal.last_refresh_at), newest=True),
              "installed": nulls_last(col(Portal.installed_at), newest=True)}
    if sort in simple:
        return simple[sort]
    if sort != "problems":
        raise ValueError(f"unknown sort {sort!r}")
    expires = col(Portal.expires_at)
    fresh = frozenset(("expired", "expiring", "healthy"))
    segments: list[Segment] = []
    for rank in sorted(set(status_rule.RANKS.values())):
        names = [s for s, r in status_rule.RANKS.items() if r == rank]
        if "expired" in names:  # expired, expiring and healthy: one run in expires_at order
            segments += [Segment(fresh, [[*_freshness_rows(), expires.is_(None)]], [hub]),
                         Segment(fresh, [[*_freshness_rows(), expires.is_not(None)]], [expires, hub])]
        elif not fresh.intersection(names):
            if rank == status_rule.UNKNOWN_RANK:
                names.append("other")
            segments.append(Segment(frozenset(names), [p for s in names for p in _status_parts(s, now, leeway)],
                                    [hub]))
    return segments


def listing_order(sort: str, now: datetime, leeway: timedelta, fresh_after: datetime | None = None) -> list[Any]:
    """The same orders as one ORDER BY (for a search, which reads every row anyway: one scan, one top-N sort)."""
    order: list[Any] = []
    if sort == "problems":
        fresh = and_(*_freshness_rows())
        rank = case(status_rule.RANKS, value=display_status_sql(now, leeway, fresh_after),
                    else_=status_rule.UNKNOWN_RANK)
        return [rank, case((and_(fresh, col(Portal.expires_at).is_not(None)), 1), else_=0),
                case((fresh, col(Portal.expires_at)), else_=None), col(Portal.hub_id)]
    for number, segment in enumerate(listing_segments(sort, now, leeway)):
        (where,) = segment.parts
        order.append(case((and_(*where), number), else_=99) if where else literal(0))
    columns = {"expires": col(Portal.expires_at), "domain": col(Portal.hub_domain),
               "last_refresh": col(Portal.last_refresh_at), "installed": col(Portal.installed_at)}
    if sort in ("last_refresh", "installed"):
        return [*order, columns[sort].desc(), col(Portal.hub_id).desc()]
    return [*order, *([columns[sort]] if sort in columns else []), col(Portal.hub_id)]


def listing_page_ids(*, session: Session, where: Sequence[ColumnElement[bool]], segments: Sequence[Segment],
                     limit: int, offset: int = 0, after: int | None = None,
                     statuses: Sequence[str] = ()) -> list[int]:
    """The hub ids of one page, in order, walking the sort's segments: keys first (index-only where an index
    covers the segment), then :func:`portal_rows_by_id` reads just those rows. ``after``: keyset by hub id;
    ``statuses``: the status filter (segments that cannot hold them are skipped).

    A segment wholly before ``offset`` is counted, not read; page one reads ``limit`` keys."""
    conn = session.connection()
    ids: list[int] = []
    skip = offset
    for segment in segments:
        need = limit - len(ids)
        if need <= 0:
            break
        if statuses and not segment.statuses.intersection(statuses):
            continue
        extra = [col(Portal.hub_id) > after] if after is not None else []
        selects = [select(col(Portal.hub_id)).where(*where, *extra, *part) for part in segment.parts]
        if len(selects) == 1:
            stmt = selects[0].order_by(*segment.order)
        else:
            merged = union_all(*selects).subquery()
            stmt = select(merged.c.hub_id).order_by(merged.c.hub_id)
        got = [int(h) for h in conn.execute(stmt.limit(need).offset(skip)).scalars()]
        if not got and skip:
            skip -= sum(int(conn.execute(select(func.count()).select_from(Portal).where(*where, *extra, *part))
                            .scalar_one()) for part in segment.parts)
            continue
        skip = 0
        ids += got
    return ids


def listing_page_ids_by_order(*, session: Session, where: Sequence[ColumnElement[bool]], order: Sequence[Any],
                              limit: int, offset: int = 0) -> list[int]:
    stmt = select(col(Portal.hub_id)).where(*where).order_by(*order).limit(limit).offset(offset)
    return [int(h) for h in session.connection().execute(stmt).scalars()]


def portal_rows_by_id(*, session: Session, hub_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Listing rows for ``hub_ids``, in that order (ids without a row are left out)."""
    if not hub_ids:
        return []
    # The app first: the primary key is (app, hub_id), so hub ids alone would scan the table.
    result = session.connection().execute(select(*LISTING_COLUMNS).where(
        col(Portal.app) == session_app(session), col(Portal.hub_id).in_(list(hub_ids))))
    keys = tuple(result.keys())
    by_id = {row[0]: dict(zip(keys, row, strict=True)) for row in result.fetchall()}
    return [by_id[h] for h in hub_ids if h in by_id]


def count_listing(*, session: Session, where: Sequence[ColumnElement[bool]]) -> int:
    return int(session.connection().execute(select(func.count()).select_from(Portal).where(*where)).scalar_one())


def display_status_counts(*, session: Session, now: datetime, leeway: timedelta,
                          fresh_after: datetime | None = None) -> dict[str, int]:
    """Portals per display status at ``now``, in one statement (one snapshot) of index range counts: stored
    statuses grouped, key problems among active portals, expired and expiring ones; healthy is the rest."""
    stored, result = col(Portal.status), col(Portal.last_refresh_result)
    active = stored == status_rule.ACTIVE
    mine = app_terms(session)  # the session's app (nothing while the table holds no other app's rows)

    def counted(kind: str, name: Any, *where: ColumnElement[bool]) -> Any:
        return select(literal(kind), name, func.count()).select_from(Portal).where(*where, *mine)

    # Active portals are most of the table: counted as the total less the others (SQLite counts a whole
    # table from its b-tree; the other statuses are two short ranges of the status index).
    stmt = union_all(
        select(literal("total"), literal(""), select(func.count()).select_from(Portal).where(*mine).scalar_subquery()),
        counted("stored", stored, stored < status_rule.ACTIVE).group_by(stored),
        counted("stored", stored, stored > status_rule.ACTIVE).group_by(stored),
        counted("key", result, active, result.in_(status_rule.KEY_PROBLEMS)).group_by(result),
        counted("fresh", literal("expired"), *_freshness_rows(), col(Portal.expires_at).is_(None)),
        counted("fresh", literal("expired"), *_freshness_rows(), col(Portal.expires_at) <= now),
        counted("fresh", literal("expiring"), status_predicate("expiring", now, leeway, fresh_after)),
    )
    counts: dict[str, int] = {}
    for kind, name, n in session.connection().execute(stmt):
        if kind == "total":  # every portal starts as healthy; each other count takes its part away
            counts["healthy"] = counts.get("healthy", 0) + int(n)
            continue
        counts["healthy"] = counts.get("healthy", 0) - int(n)
        counts[str(name)] = counts.get(str(name), 0) + int(n)
    return {s: n for s, n in counts.items() if n}


def expiry_histogram_counts(*, session: Session, now: datetime, bucket: timedelta, buckets: int) -> list[int]:
    """Access tokens (revoked left out) expiring in each ``bucket`` from ``now``: one statement of index range
    counts (every token in the range, less the revoked ones in it)."""
    expires = col(Portal.expires_at)
    parts = []
    for i in range(buckets):
        span = [expires >= now + bucket * i, expires < now + bucket * (i + 1), *app_terms(session)]
        parts.append(select(literal(i), func.count()).where(*span))
        parts.append(select(literal(-1 - i), func.count()).where(col(Portal.status) == PortalStatus.REVOKED, *span))
    counts = [0] * buckets
    for i, n in session.connection().execute(union_all(*parts)):
        counts[i if i >= 0 else -1 - i] += int(n) if i >= 0 else -int(n)
    return counts
