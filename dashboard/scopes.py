"""HubSpot scope catalog, scope sets and the scope linter. Pure: the only I/O reads the packaged JSON once.

A :class:`ScopeSet` is what an install URL asks for, split the way HubSpot's app settings split scopes since
October 2024: *required* and *conditionally required* scopes travel in the ``scope`` parameter, *optional*
ones in ``optional_scope``. :func:`lint` explains, one line per finding, why a set would fail or surprise.
"""

from __future__ import annotations

import difflib
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
_LABEL: Final[dict[Bucket, str]] = {
    "required": "required", "conditionally_required": "conditionally required", "optional": "optional",
}
# The URL parameter each bucket travels in (HubSpot's matching rule since Oct 2024).
_PARAM: Final[dict[Bucket, str]] = {
    "required": "scope", "conditionally_required": "scope", "optional": "optional_scope",
}

# RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'. HubSpot's names are a subset
# (lowercase, digits, '.', '_', '-'), but we only refuse what could never be a token, so new names still pass.
_TOKEN_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# Longest catalog name is 50 chars; the cap only keeps pasted blobs out of URLs and error messages.
MAX_SCOPE_LENGTH: Final = 200
_NO_TIER: Final = "Any account"


def _shown(value: object, limit: int = 60) -> str:
    """repr() of a rejected value, truncated so a pasted blob cannot flood an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_scope_name(name: str) -> str:
    """Return ``name`` if it is a well-formed scope token, else raise :class:`ScopeError`.

    Unknown but well-formed names pass: the catalog lags behind HubSpot, so :func:`lint` warns instead.
    """
    if not isinstance(name, str):
        raise ScopeError(f"A scope name must be text, got {type(name).__name__} {_shown(name)}.")
    if len(name) > MAX_SCOPE_LENGTH:
        raise ScopeError(f"Scope name {_shown(name)} is longer than {MAX_SCOPE_LENGTH} characters.")
    if not _TOKEN_RE.fullmatch(name):
        raise ScopeError(
            f"{_shown(name)} is not a scope name: use printable ASCII without spaces, quotes or "
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
        raise ScopeError(f"The {_LABEL[bucket]} scopes must be a list of names, not {_shown(names)}.")
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


@dataclass(frozen=True)
class LintFinding:
    """One linter remark: ``code`` is stable for tests and filters, ``message`` is one line for people."""

    level: Level
    code: str
    scope: str | None
    message: str


_LEVEL_ORDER: Final[dict[Level, int]] = {"error": 0, "warning": 1, "info": 2}


def _lint_app(scope_set: ScopeSet, app: ScopeSet) -> Iterator[LintFinding]:
    """HubSpot's rule: a URL scope outside the app settings, or in the wrong parameter, blocks the install."""
    for name in scope_set.all_names():
        app_buckets = app.buckets_of(name)
        if not app_buckets:
            yield LintFinding("error", "not_in_app", name,
                              f"{name} is not in the app's scope settings; HubSpot blocks the install.")
            continue
        app_params = {_PARAM[b] for b in app_buckets}
        for bucket in scope_set.buckets_of(name):
            if _PARAM[bucket] not in app_params:
                yield LintFinding(
                    "error", "bucket_mismatch", name,
                    f"{name} is {_LABEL[app_buckets[0]]} in the app settings but {_LABEL[bucket]} here; "
                    f"HubSpot only accepts it in {_PARAM[app_buckets[0]]}, so the install fails.")
            elif bucket not in app_buckets:
                yield LintFinding("info", "bucket_differs", name,
                                  f"{name} is {_LABEL[bucket]} here but {_LABEL[app_buckets[0]]} in the app "
                                  "settings; both go in the scope parameter, so the install still works.")
    for name in app.required:
        if not scope_set.buckets_of(name):  # when sent as optional, bucket_mismatch already said so
            yield LintFinding("error", "missing_required", name,
                              f"{name} is required in the app settings, so the scope parameter needs it.")


def lint(
    scope_set: ScopeSet, *, catalog: ScopeCatalog | None = None, app_scopes: ScopeSet | None = None,
) -> list[LintFinding]:
    """Explain what is wrong or risky in ``scope_set``: errors first, then warnings, then info.

    ``app_scopes`` is the app's configured scope settings; when given, the set is also checked against
    HubSpot's matching rule (required scopes in ``scope``, optional ones only in ``optional_scope``).
    """
    catalog = catalog if catalog is not None else load_catalog()
    found: list[LintFinding] = []
    add = found.append
    if not scope_set.scope_param():
        add(LintFinding("error", "empty_scope", None,
                        "The scope parameter is empty; HubSpot requires at least one required scope."))
    if "oauth" not in scope_set.all_names():
        add(LintFinding("warning", "missing_oauth", "oauth",
                        "Add oauth as required: HubSpot adds it to every app, so the URL must ask for it."))
    elif "oauth" not in scope_set.required:
        add(LintFinding("warning", "oauth_not_required", "oauth",
                        "Make oauth required: HubSpot adds it to every app as a basic scope."))
    for name in scope_set.all_names():
        buckets = scope_set.buckets_of(name)
        if len(buckets) > 1:
            add(LintFinding("error", "multiple_buckets", name,
                            f"{name} is in several buckets ({', '.join(_LABEL[b] for b in buckets)}); "
                            "HubSpot allows one type per scope."))
        if name == "contacts":
            add(LintFinding("warning", "legacy_contacts", name,
                            "contacts is the legacy pre-granular scope; use crm.objects.contacts.read "
                            "and/or crm.objects.contacts.write."))
        scope = catalog.get(name)
        if scope is None:
            close = difflib.get_close_matches(name, catalog.names(), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            add(LintFinding("warning", "unknown_scope", name,
                            f"{name} is not in the scope catalog; check the spelling.{hint}"))
            continue
        if is_tier_gated(scope) and any(b != "optional" for b in buckets):
            add(LintFinding("warning", "tier_gated_required", name,
                            f"{name} needs this tier: {scope.tier_requirement}. Make it optional, or "
                            "accounts without that tier cannot install the app at all."))
        if scope.sensitive:
            add(LintFinding("warning", "sensitive", name,
                            f"{name} is a Sensitive Data scope: it needs an Enterprise account, and "
                            "marketplace apps must be allow-listed by HubSpot."))
    for name in scope_set.duplicates:
        add(LintFinding("info", "duplicate", name, f"{name} is listed twice in one bucket; kept once."))
    if app_scopes is not None:
        found.extend(_lint_app(scope_set, app_scopes))
    return sorted(found, key=lambda f: _LEVEL_ORDER[f.level])  # stable: keeps rule order within a level


@dataclass(frozen=True)
class ScopeMove:
    """A scope that changed bucket between two sets."""

    scope: str
    source: Bucket
    target: Bucket


@dataclass(frozen=True)
class ScopeDiff:
    """What changed from set ``a`` to set ``b``. ``added``/``removed`` have a key for every bucket."""

    added: Mapping[Bucket, tuple[str, ...]]
    removed: Mapping[Bucket, tuple[str, ...]]
    moved: tuple[ScopeMove, ...]

    def __bool__(self) -> bool:
        return bool(self.moved) or any(self.added.values()) or any(self.removed.values())


def diff(a: ScopeSet, b: ScopeSet) -> ScopeDiff:
    """Compare two saved scope sets. A name in exactly one bucket on each side that changed is a move."""
    added: dict[Bucket, list[str]] = {bucket: [] for bucket in BUCKETS}
    removed: dict[Bucket, list[str]] = {bucket: [] for bucket in BUCKETS}
    moved: list[ScopeMove] = []
    for name in sorted(set(a.all_names()) | set(b.all_names())):
        before, after = a.buckets_of(name), b.buckets_of(name)
        if len(before) == len(after) == 1 and before != after:
            moved.append(ScopeMove(name, before[0], after[0]))
            continue
        for bucket in after:
            if bucket not in before:
                added[bucket].append(name)
        for bucket in before:
            if bucket not in after:
                removed[bucket].append(name)
    return ScopeDiff(
        added=MappingProxyType({k: tuple(v) for k, v in added.items()}),
        removed=MappingProxyType({k: tuple(v) for k, v in removed.items()}),
        moved=tuple(moved),
    )
