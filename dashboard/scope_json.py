"""Scope sets as HubSpot's app configuration writes them, and as a shareable query string.

The JSON form has the three buckets of the scope builder as keys, ``required``, ``conditionally_required``
and ``optional``, each a list of scope names. Import accepts exactly those keys; anything else is refused
with one clear line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dashboard.errors import InputError
from dashboard.scopes import BUCKETS, ScopeSet

MAX_JSON = 20_000


def to_json(scope_set: ScopeSet) -> str:
    return json.dumps({b: list(scope_set.bucket(b)) for b in BUCKETS}, indent=2)


def from_json(text: str) -> ScopeSet:
    """A scope set from HubSpot-style JSON; :class:`InputError` for anything else."""
    if len(text) > MAX_JSON:
        raise InputError(f"the scope JSON is longer than {MAX_JSON} characters")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, dict):
        raise InputError("the scope JSON must be an object with required / conditionally_required / optional")
    unknown = sorted(set(data) - set(BUCKETS))
    if unknown:
        raise InputError(f"unknown key {unknown[0][:40]!r}; use {', '.join(BUCKETS)}")
    lists: dict[str, list[str]] = {}
    for bucket in BUCKETS:
        names = data.get(bucket, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InputError(f"{bucket} must be a list of scope names")
        lists[bucket] = names
    return ScopeSet.from_lists(**lists)


def to_query(scope_set: ScopeSet) -> dict[str, str]:
    """Query parameters for a shareable link (space-joined, empty buckets left out)."""
    return {b: " ".join(scope_set.bucket(b)) for b in BUCKETS if scope_set.bucket(b)}


def from_query(params: Mapping[str, str]) -> ScopeSet | None:
    """The set a shared link carries, or None when it carries none."""
    if not any(params.get(b) for b in BUCKETS):
        return None
    return ScopeSet.from_lists(**{b: (params.get(b) or "").split() for b in BUCKETS})
