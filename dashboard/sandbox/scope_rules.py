"""HubSpot's install-time scope rules, as pure functions.

1. Against the app's settings (CL-SCOPES, since Oct 2024): required scopes must all be in ``scope``;
   conditionally required ones may only be in ``scope``; optional ones only in ``optional_scope``; any other
   scope is a settings-vs-URL mismatch that blocks the install. With no settings (permissive sandbox default)
   ``oauth`` is required and every catalog scope is accepted in either parameter.
2. Against the chosen account's tier (WWO-LEGACY, QS): a ``scope`` entry the account cannot have blocks the
   install; an ``optional_scope`` entry it cannot have is silently left out of the grant.
"""

from __future__ import annotations

from .catalog import ScopeInfo, scope_catalog, unknown_scopes
from .config import AppScopes, SandboxAccount
from .errors import AuthorizeError
from .tiers import parse_tier, scope_available

PERMISSIVE_REQUIRED = ("oauth",)


def split_scopes(value: str | None) -> tuple[str, ...]:
    """A space-separated scope parameter as an ordered tuple without duplicates."""
    return tuple(dict.fromkeys((value or "").split()))


def _mismatch(problems: list[str]) -> AuthorizeError:
    return AuthorizeError(
        "scope_mismatch",
        "Authorization failed because the scopes in the install URL don't match the app's scope settings: "
        + "; ".join(problems)
        + ".",
    )


def check_against_settings(scope: tuple[str, ...], optional: tuple[str, ...], app: AppScopes | None) -> None:
    """Raise :class:`AuthorizeError` when the URL's scopes break the app's scope settings."""
    unknown = unknown_scopes({*scope, *optional})
    if app is None:
        if unknown:
            raise AuthorizeError(
                "unknown_scope", f"Authorization failed: unknown scope(s) {', '.join(unknown)}."
            )
        missing = [name for name in PERMISSIVE_REQUIRED if name not in scope]
        if missing:
            raise _mismatch([f"required scope(s) missing from scope: {', '.join(missing)}"])
        return
    problems: list[str] = []
    missing = [name for name in app.required if name not in scope]
    if missing:
        problems.append(f"required scope(s) missing from scope: {', '.join(missing)}")
    misplaced = [name for name in scope if name in app.optional]
    if misplaced:
        problems.append(f"optional scope(s) sent in scope instead of optional_scope: {', '.join(misplaced)}")
    must_be_in_scope = {*app.required, *app.conditionally_required}
    wrong_param = [name for name in optional if name in must_be_in_scope]
    if wrong_param:
        problems.append(
            f"required scope(s) sent in optional_scope instead of scope: {', '.join(wrong_param)}"
        )
    strangers = [name for name in dict.fromkeys((*scope, *optional)) if name not in app.all_names()]
    if strangers:
        problems.append(f"scope(s) not in the app's settings: {', '.join(strangers)}")
    if problems:
        raise _mismatch(problems)


def _available(info: ScopeInfo | None, account: SandboxAccount) -> bool:
    if info is None:
        return True  # Unknown to the catalog: rule 1 already decided whether it may be asked for.
    return scope_available(parse_tier(account.tier), info.tier_requirement, sensitive=info.sensitive)


def _needs(info: ScopeInfo) -> str:
    return "Sensitive Data needs Enterprise" if info.sensitive else f"needs {info.tier_requirement}"


def grant_for_account(
    scope: tuple[str, ...], optional: tuple[str, ...], account: SandboxAccount
) -> tuple[str, ...]:
    """The scopes an install on ``account`` grants.

    Raises :class:`AuthorizeError` (``tier_blocked``) if a ``scope`` entry is out of the account's tier.
    """
    catalog = scope_catalog()
    blocked = [name for name in scope if not _available(catalog.get(name), account)]
    if blocked:
        needs = "; ".join(f"{name} ({_needs(catalog[name])})" for name in blocked)
        raise AuthorizeError(
            "tier_blocked",
            f"This app can't be installed on {account.domain} (hub {account.hub_id}, tier '{account.tier}'): "
            f"the account's subscription doesn't include {needs}.",
        )
    granted = list(scope)
    granted += [name for name in optional if name not in scope and _available(catalog.get(name), account)]
    return tuple(granted)
