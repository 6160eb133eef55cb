"""HubSpot's scope catalog as the sandbox knows it: ``scopes.json`` beside this module (its ``source`` key
says where it comes from).

The sandbox ships its own compact copy instead of reading ``dashboard/data`` because it plays HubSpot and
must not depend on the dashboard it is testing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class ScopeInfo:
    """One scope: ``tier_requirement`` is HubSpot's table text ("Any account", ...) or ``None`` (unknown)."""

    name: str
    description: str | None
    group: str
    tier_requirement: str | None
    sensitive: bool


@cache
def scope_catalog() -> dict[str, ScopeInfo]:
    """Every scope name HubSpot knows, keyed by name. Loaded once; the data never changes at runtime."""
    raw = json.loads((Path(__file__).parent / "scopes.json").read_text(encoding="utf-8"))
    return {
        entry["name"]: ScopeInfo(
            name=entry["name"],
            description=entry["description"],
            group=entry["group"],
            tier_requirement=entry["tier_requirement"],
            sensitive=bool(entry["sensitive"]),
        )
        for entry in raw["scopes"]
    }


def unknown_scopes(names: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """The names in ``names`` that are not in the catalog, sorted."""
    catalog = scope_catalog()
    return sorted(name for name in set(names) if name not in catalog)
