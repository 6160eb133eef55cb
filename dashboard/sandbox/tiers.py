"""The sandbox's tier model: what an account has, and whether it meets a scope's ``tier_requirement``.

An account tier is a ``+``-joined list of parts (case-insensitive)::

    free                          no paid hub (the default)
    starter | professional | enterprise
                                  every hub at that level (a "suite")
    <hub>-<level>                 one hub: marketing, sales, service, cms (alias content), operations
                                  (alias data), commerce; level: starter, professional (pro), enterprise (ent)
    business-units | transactional-email | website
                                  add-ons (a trailing "-addon" is accepted)

e.g. ``"marketing-professional"``, ``"sales-starter+service-professional"``, ``"enterprise+business-units"``.

A scope's ``tier_requirement`` is HubSpot's scopes-table text ("Any account", "Any Enterprise account",
"Marketing Hub Professional or Enterprise", "Sales Hub Starter+", "CMS or Marketing Hub Pro/Ent",
"Marketing Hub Enterprise or the transactional email add-on", ...). It is read as a list of alternatives
(split on ", or" / "or the"); each alternative names hubs (none = any hub), a minimum level (the lowest
level it mentions) and add-ons. ``None`` (unknown in the catalog) and text we cannot read count as
available, so the sandbox never blocks an install on a guess. Sensitive scopes also need an Enterprise hub
(HubSpot: "Sensitive Data requires an Enterprise subscription").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEVELS = {"starter": 1, "pro": 2, "professional": 2, "ent": 3, "enterprise": 3}
ENTERPRISE = 3
HUB_ALIASES = {
    "marketing": "marketing",
    "sales": "sales",
    "service": "service",
    "cms": "cms",
    "content": "cms",  # Content Hub is CMS Hub's new name; the table uses both.
    "operations": "operations",
    "ops": "operations",
    "data": "operations",  # Data Hub is Operations Hub's new name.
    "commerce": "commerce",
}
HUBS = frozenset(HUB_ALIASES.values())
ADDONS = frozenset({"business-units", "transactional-email", "website"})


@dataclass(frozen=True)
class AccountTier:
    """A parsed account tier: the level (0 = free) of each hub, and the add-ons."""

    levels: tuple[tuple[str, int], ...]
    addons: frozenset[str]

    def level(self, hub: str) -> int:
        """The account's level in ``hub`` (0 when it has no paid subscription there)."""
        return dict(self.levels).get(hub, 0)

    def best_level(self) -> int:
        """The highest level in any hub."""
        return max((level for _, level in self.levels), default=0)


def parse_tier(text: str) -> AccountTier:
    """Parse an account tier string; ``ValueError`` names the part we do not understand."""
    levels: dict[str, int] = {}
    addons: set[str] = set()
    for raw in text.lower().replace(",", "+").split("+"):
        part = raw.strip().removesuffix("-addon").removesuffix("-add-on")
        if not part or part == "free":
            continue
        if part in LEVELS:
            for hub in HUBS:
                levels[hub] = max(levels.get(hub, 0), LEVELS[part])
        elif part in ADDONS:
            addons.add(part)
        else:
            hub_name, _, level_name = part.partition("-")
            if hub_name not in HUB_ALIASES or level_name not in LEVELS:
                raise ValueError(
                    f"unknown tier part '{raw.strip()}': use free, starter, professional, enterprise, "
                    "<hub>-<level> (hubs: marketing, sales, service, cms, operations, commerce) "
                    "or an add-on (business-units, transactional-email, website)"
                )
            hub = HUB_ALIASES[hub_name]
            levels[hub] = max(levels.get(hub, 0), LEVELS[level_name])
    return AccountTier(tuple(sorted(levels.items())), frozenset(addons))


@dataclass(frozen=True)
class Alternative:
    """One way to meet a requirement: a hub in ``hubs`` (``None`` = any) at ``min_level``, plus add-ons."""

    hubs: frozenset[str] | None
    min_level: int
    addons: frozenset[str]

    def met_by(self, tier: AccountTier) -> bool:
        """Whether ``tier`` satisfies this alternative."""
        if not self.addons <= tier.addons:
            return False
        if self.min_level == 0:
            return True
        hubs = HUBS if self.hubs is None else self.hubs
        return any(tier.level(hub) >= self.min_level for hub in hubs)


_HUB_RE = re.compile(r"\b(marketing|sales|service|cms|content|operations|commerce)\b|\bdata hub\b")
_LEVEL_RE = re.compile(r"\b(starter|professional|pro|enterprise|ent)\b")
_ADDON_RES = {
    "business-units": re.compile(r"\bbusiness units\b"),
    "transactional-email": re.compile(r"\btransactional email\b"),
    "website": re.compile(r"\bwebsite add-on\b"),
}
_SPLIT_RE = re.compile(r",\s*or\s+|\s+or\s+the\s+")


def _hubs_in(text: str) -> set[str]:
    return {HUB_ALIASES[m.group(1) or "data"] for m in _HUB_RE.finditer(text)}


def _addons_in(text: str) -> set[str]:
    return {name for name, pattern in _ADDON_RES.items() if pattern.search(text)}


def parse_requirement(text: str | None) -> tuple[Alternative, ...]:
    """Read a ``tier_requirement`` text. An empty tuple means "no requirement" (any account)."""
    if text is None or "any account" in text.lower():
        return ()
    parts: list[str] = []
    for part in _SPLIT_RE.split(text.lower()):
        # "Sales Hub Starter, Professional, or Enterprise": a part naming no hub and no add-on only
        # lists more levels, so it belongs to the alternative before it.
        if parts and not _hubs_in(part) and not _addons_in(part):
            parts[-1] = f"{parts[-1]} {part}"
        else:
            parts.append(part)
    alternatives: list[Alternative] = []
    for part in parts:
        hubs = _hubs_in(part)
        addons = _addons_in(part)
        levels = [LEVELS[m.group(1)] for m in _LEVEL_RE.finditer(part)]
        if levels:
            min_level = min(levels)
        elif hubs:
            min_level = 1  # "Marketing Hub" with no level: any paid subscription of that hub.
        else:
            min_level = 0
        if not hubs and not addons and min_level == 0:
            return ()  # Unreadable text: treat as unknown, i.e. available.
        alternatives.append(Alternative(frozenset(hubs) if hubs else None, min_level, frozenset(addons)))
    return tuple(alternatives)


def requirement_met(tier: AccountTier, requirement: str | None) -> bool:
    """Whether an account with ``tier`` meets HubSpot's ``tier_requirement`` text."""
    alternatives = parse_requirement(requirement)
    return not alternatives or any(alt.met_by(tier) for alt in alternatives)


def scope_available(tier: AccountTier, requirement: str | None, *, sensitive: bool) -> bool:
    """Whether a scope can be granted on an account: its tier rule, and Enterprise for sensitive scopes."""
    if sensitive and tier.best_level() < ENTERPRISE:
        return False
    return requirement_met(tier, requirement)
