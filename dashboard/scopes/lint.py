"""The scope linter and scope-set diff: one-line explanations of why a scope set would fail or surprise.

Pure functions over :mod:`dashboard.scopes.catalog` (catalog, :class:`~dashboard.scopes.catalog.ScopeSet`);
the rules follow
HubSpot's app scope settings since October 2024 (required / conditionally required in ``scope``, optional
in ``optional_scope``, anything else blocks the install).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from dashboard.scopes.catalog import (
    BUCKET_LABELS,
    BUCKET_PARAMS,
    BUCKETS,
    Bucket,
    Level,
    ScopeCatalog,
    ScopeSet,
    is_tier_gated,
    load_catalog,
)


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
        app_params = {BUCKET_PARAMS[b] for b in app_buckets}
        for bucket in scope_set.buckets_of(name):
            if BUCKET_PARAMS[bucket] not in app_params:
                yield LintFinding(
                    "error", "bucket_mismatch", name,
                    f"{name} is {BUCKET_LABELS[app_buckets[0]]} in the app settings but {BUCKET_LABELS[bucket]} here; "
                    f"HubSpot only accepts it in {BUCKET_PARAMS[app_buckets[0]]}, so the install fails.")
            elif bucket not in app_buckets:
                yield LintFinding("info", "bucket_differs", name,
                                  f"{name} is {BUCKET_LABELS[bucket]} here but "
                                  f"{BUCKET_LABELS[app_buckets[0]]} in the app settings; both go in the scope "
                                  "parameter, so the install still works.")
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
                            f"{name} is in several buckets ({', '.join(BUCKET_LABELS[b] for b in buckets)}); "
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
