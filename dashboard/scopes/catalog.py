"""HubSpot scope catalog, scope sets and the scope linter. Pure: the only I/O reads the packaged JSON once.

A :class:`ScopeSet` is what an install URL asks for, split the way HubSpot's app settings split scopes since
October 2024: *required* and *conditionally required* scopes travel in the ``scope`` parameter, *optional*
ones in ``optional_scope``. ``dashboard.scopes.lint`` explains, one line per finding, why a set would fail or surprise.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, Literal

from dashboard.errors import ConfigurationError, ScopeError

Bucket = Literal["required", "conditionally_required", "optional"]
BUCKETS: Final[tuple[Bucket, ...]] = ("required", "conditionally_required", "optional")
Level = Literal["error", "warning", "info"]
BUCKET_LABELS: Final[dict[Bucket, str]] = {
    "required": "required", "conditionally_required": "conditionally required", "optional": "optional",
}
# The URL parameter each bucket travels in (HubSpot's matching rule since Oct 2024).
BUCKET_PARAMS: Final[dict[Bucket, str]] = {
    "required": "scope", "conditionally_required": "scope", "optional": "optional_scope",
}

# RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'. HubSpot's names are a subset
# (lowercase, digits, '.', '_', '-'), but we only refuse what could never be a token, so new names still pass.
_TOKEN_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# Longest catalog name is 50 chars; the cap only keeps pasted blobs out of URLs and error messages.
MAX_SCOPE_LENGTH: Final = 200
_NO_TIER: Final = "Any account"


def shown(value: object, limit: int = 60) -> str:
    """repr() of a rejected value, truncated so a pasted blob cannot flood an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_scope_name(name: str) -> str:
    """Return ``name`` if it is a well-formed scope token, else raise :class:`ScopeError`.

    Unknown but well-formed names pass: the catalog lags behind HubSpot, so :func:`lint` warns instead.
    """
    if not isinstance(name, str):
        raise ScopeError(f"A scope name must be text, got {type(name).__name__} {shown(name)}.")
    if len(name) > MAX_SCOPE_LENGTH:
        raise ScopeError(f"Scope name {shown(name)} is longer than {MAX_SCOPE_LENGTH} characters.")
    if not _TOKEN_RE.fullmatch(name):
        raise ScopeError(
            f"{shown(name)} is not a scope name: use printable ASCII without spaces, quotes or "
            "backslashes, like crm.objects.contacts.read."
        )
    return name


@dataclass(frozen=True)
class Scope:
    """One catalog entry. ``description``/``tier_requirement`` are None where HubSpot documents nothing."""

    name: str
    description: str | None
    group: str
    tier_requirement: str | None
    sensitive: bool
    notes: str | None


def is_tier_gated(scope: Scope) -> bool:
    """True when only accounts on some tier (or with an add-on) can grant ``scope``."""
    return scope.tier_requirement is not None and scope.tier_requirement != _NO_TIER


class ScopeCatalog:
    """Read-only lookup over known scopes, in catalog order."""

    def __init__(self, scopes: Iterable[Scope]) -> None:
        self._by_name: Mapping[str, Scope] = MappingProxyType({s.name: s for s in scopes})

    def get(self, name: str) -> Scope | None:
        """The scope called ``name``, or None when the catalog does not know it."""
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Scope]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> tuple[str, ...]:
        """All known scope names, in catalog order."""
        return tuple(self._by_name)

    def search(self, text: str) -> list[Scope]:
        """Scopes whose name, description or group contain every word of ``text`` (case-insensitive).

        Best first: exact name, name prefix, all words in the name, then description/group hits; shorter
        names first within a rank. Empty text returns every scope.
        """
        terms = text.casefold().split()
        hits: list[tuple[int, int, str, Scope]] = []
        query = " ".join(terms)
        for scope in self._by_name.values():
            name = scope.name.casefold()
            haystack = " ".join((name, (scope.description or "").casefold(), scope.group.casefold()))
            if not all(term in haystack for term in terms):
                continue
            in_name = all(term in name for term in terms)
            rank = 0 if name == query else 1 if name.startswith(query) else 2 if in_name else 3
            hits.append((rank, len(name), scope.name, scope))
        return [hit[-1] for hit in sorted(hits, key=lambda hit: hit[:3])]

    def groups(self) -> dict[str, list[Scope]]:
        """Scopes by group (groups and scopes sorted by name). Groups are derived by us, not HubSpot's."""
        grouped: dict[str, list[Scope]] = {}
        for scope in sorted(self._by_name.values(), key=lambda s: s.name):
            grouped.setdefault(scope.group, []).append(scope)
        return dict(sorted(grouped.items()))


def _scope_from_entry(entry: dict[str, Any]) -> Scope:
    return Scope(
        name=validate_scope_name(entry["name"]),
        description=entry.get("description"),
        group=entry.get("group") or "Other",
        tier_requirement=entry.get("tier_requirement"),
        sensitive=entry.get("sensitive") is True,
        notes=entry.get("notes"),
    )


@cache
def load_catalog() -> ScopeCatalog:
    """The packaged catalog (``dashboard/data/hubspot-scopes.json``), read once per process."""
    text = resources.files("dashboard").joinpath("data", "hubspot-scopes.json").read_text(encoding="utf-8")
    try:
        return ScopeCatalog(_scope_from_entry(entry) for entry in json.loads(text))
    except (ValueError, KeyError, TypeError, ScopeError) as exc:
        # The JSON ships with the code, so a bad entry is a packaging bug, not user input.
        raise ConfigurationError(f"The packaged scope catalog is malformed: {exc}") from exc


def _as_names(names: Iterable[str], bucket: Bucket) -> tuple[str, ...]:
    """The names as a tuple. A bare string is an Iterable[str] too, but never means one scope per letter."""
    if isinstance(names, str):
        raise ScopeError(f"The {BUCKET_LABELS[bucket]} scopes must be a list of names, not {shown(names)}.")
    return tuple(names)


@dataclass(frozen=True)
class ScopeSet:
    """Scopes an install URL asks for, by bucket; each bucket is validated, sorted and unique.

    ``duplicates`` remembers names given twice within one bucket (dropped here, reported by :func:`lint`);
    it takes no part in equality.
    """

    required: tuple[str, ...] = ()
    conditionally_required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        dupes = set(self.duplicates)
        for bucket in BUCKETS:
            names = [validate_scope_name(name) for name in _as_names(getattr(self, bucket), bucket)]
            dupes.update(name for name, count in Counter(names).items() if count > 1)
            # Normalized once here (frozen, hence object.__setattr__), so every ScopeSet is canonical.
            object.__setattr__(self, bucket, tuple(sorted(set(names))))
        object.__setattr__(self, "duplicates", tuple(sorted(dupes)))

    @classmethod
    def from_lists(
        cls, required: Iterable[str] = (), conditionally_required: Iterable[str] = (),
        optional: Iterable[str] = (),
    ) -> ScopeSet:
        """Build a set from any iterables of names; raises :class:`ScopeError` on a malformed name."""
        return cls(_as_names(required, "required"),
                   _as_names(conditionally_required, "conditionally_required"),
                   _as_names(optional, "optional"))

    def bucket(self, bucket: Bucket) -> tuple[str, ...]:
        """The names in one bucket."""
        names: tuple[str, ...] = getattr(self, bucket)
        return names

    def buckets_of(self, name: str) -> tuple[Bucket, ...]:
        """Every bucket that holds ``name`` (more than one is a mistake :func:`lint` reports)."""
        return tuple(b for b in BUCKETS if name in self.bucket(b))

    def all_names(self) -> tuple[str, ...]:
        """Every name in any bucket, sorted and unique."""
        return tuple(sorted({n for b in BUCKETS for n in self.bucket(b)}))

    def scope_param(self) -> tuple[str, ...]:
        """Names for the ``scope`` URL parameter: required, then conditionally required, without repeats."""
        return tuple(dict.fromkeys(self.required + self.conditionally_required))

    def optional_param(self) -> tuple[str, ...]:
        """Names for the ``optional_scope`` URL parameter."""
        return self.optional


# --- HubSpot's JSON form of a scope set ------------------------------------------------------------------
# The shape of an app's scope settings ({"required": [...], "conditionally_required": [...], "optional": [...]}),
# as HUBSPOT_APP_SCOPES_FILE holds it: what `scope-sets export` writes and `import` reads.

def to_hubspot_json(scope_set: ScopeSet) -> dict[str, list[str]]:
    """The set as HubSpot's JSON object: every bucket present, names sorted."""
    return {bucket: list(scope_set.bucket(bucket)) for bucket in BUCKETS}


def from_hubspot_json(data: object) -> ScopeSet:
    """A set from HubSpot's JSON object; a missing bucket is empty. Raises :class:`ScopeError` on any other shape.

    Unknown keys are refused rather than ignored: a misspelt ``optinal`` would otherwise drop scopes silently.
    """
    if not isinstance(data, dict):
        raise ScopeError("A scope set in HubSpot's JSON is an object with required, conditionally_required "
                         f"and optional lists, not {type(data).__name__}.")
    unknown = sorted(str(k) for k in data if k not in BUCKETS)
    if unknown:
        raise ScopeError(f"Unknown key {shown(unknown[0])} in the scope set; use required, "
                         "conditionally_required and optional.")
    lists: dict[Bucket, list[str]] = {}
    for bucket in BUCKETS:
        names = data.get(bucket, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ScopeError(f"The {BUCKET_LABELS[bucket]} scopes must be a list of names.")
        lists[bucket] = names
    return ScopeSet.from_lists(**lists)


def parse_hubspot_json(text: str) -> ScopeSet:
    """:func:`from_hubspot_json` of a JSON document; malformed JSON is a :class:`ScopeError` too."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: thousands of nested brackets
        raise ScopeError(f"The scope set is not valid JSON (line {getattr(exc, 'lineno', '?')}).") from None
    return from_hubspot_json(data)
