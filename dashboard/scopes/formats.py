"""Scope sets as HubSpot's app configuration writes them, and as a shareable query string.

The JSON form has the three buckets of the scope builder as keys, ``required``, ``conditionally_required``
and ``optional``, each a list of scope names. Import accepts exactly those keys; anything else is refused
with one clear line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from dashboard.errors import InputError
from dashboard.scopes.catalog import BUCKETS, ScopeSet, parse_hubspot_json, to_hubspot_json

MAX_JSON = 20_000


def to_json(scope_set: ScopeSet) -> str:
    return json.dumps(to_hubspot_json(scope_set), indent=2)


def from_json(text: str) -> ScopeSet:
    """A scope set from HubSpot-style JSON (:func:`dashboard.scopes.catalog.parse_hubspot_json`, shared with the CLI's
    ``scope-sets import``); one clear :class:`InputError` line for anything else."""
    if len(text) > MAX_JSON:
        raise InputError(f"the scope JSON is longer than {MAX_JSON} characters")
    return parse_hubspot_json(text)


def to_query(scope_set: ScopeSet) -> dict[str, str]:
    """Query parameters for a shareable link (space-joined, empty buckets left out)."""
    return {b: " ".join(scope_set.bucket(b)) for b in BUCKETS if scope_set.bucket(b)}


def from_query(params: Mapping[str, str]) -> ScopeSet | None:
    """The set a shared link carries, or None when it carries none."""
    if not any(params.get(b) for b in BUCKETS):
        return None
    return ScopeSet.from_lists(**{b: (params.get(b) or "").split() for b in BUCKETS})
