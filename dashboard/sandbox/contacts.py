"""Deterministic CRM contacts per account, paged like ``GET /crm/v3/objects/contacts``.

Same hub id, same contacts, every run: tests can assert on names and page boundaries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Linus")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen")
DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
MAX_LIMIT = 100  # HubSpot's maximum page size for CRM object lists.
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def contact_count(hub_id: int) -> int:
    """How many contacts the account has: 40-99, fixed per hub id."""
    return 40 + hub_id % 60


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def contact(hub_id: int, index: int) -> dict[str, Any]:
    """The ``index``-th contact (0-based) of an account, with every property we know."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES) + hub_id) % len(LAST_NAMES)]
    created = _EPOCH + timedelta(hours=7 * index, minutes=hub_id % 60)
    updated = created + timedelta(days=3)
    object_id = str(index + 1)
    return {
        "id": object_id,
        "properties": {
            "createdate": _timestamp(created),
            "email": f"{first}.{last}{index + 1}@example.com".lower(),
            "firstname": first,
            "hs_object_id": object_id,
            "lastmodifieddate": _timestamp(updated),
            "lastname": last,
        },
        "createdAt": _timestamp(created),
        "updatedAt": _timestamp(updated),
        "archived": False,
    }


def contacts_page(
    hub_id: int, *, limit: int, after: int, properties: tuple[str, ...], base_url: str
) -> dict[str, Any]:
    """One page: ``results`` and, when more remain, ``paging.next.after`` (an opaque string) and ``link``."""
    total = contact_count(hub_id)
    wanted = properties or DEFAULT_PROPERTIES
    results = []
    for index in range(after, min(after + limit, total)):
        item = contact(hub_id, index)
        item["properties"] = {name: item["properties"].get(name) for name in wanted}
        results.append(item)
    page: dict[str, Any] = {"results": results}
    if after + limit < total:
        cursor = str(after + limit)
        query = urlencode({"after": cursor, "limit": limit})
        page["paging"] = {"next": {"after": cursor, "link": f"{base_url}/crm/v3/objects/contacts?{query}"}}
    return page
