"""Why a requested scope is not granted, from the scope catalog, and whether re-consent can change that.

Pure: takes what a portal asked for and was granted, and the catalog. HubSpot grants an optional scope only
when the account's subscription includes it and the installing user may grant it; a required scope missing
from the grant means the install or a later refresh changed it. The tier HubSpot's answer implies is
stated where it can be: an optional tier-gated scope that was dropped says the account is below that tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.scopes.catalog import ScopeCatalog, is_tier_gated


@dataclass(frozen=True)
class MissingScope:
    scope: str
    asked_as: str  # "required" / "optional"
    reason: str
    reconsent_helps: bool


def missing_scopes(*, requested: Sequence[str], optional: Sequence[str], granted: Sequence[str],
                   catalog: ScopeCatalog) -> list[MissingScope]:
    """One entry per requested scope that is not granted, required ones first."""
    have = set(granted)
    out: list[MissingScope] = []
    for asked_as, names in (("required", requested), ("optional", optional)):
        for name in sorted(set(names) - have):
            entry = catalog.get(name)
            if entry is None:
                out.append(MissingScope(name, asked_as, "not in HubSpot's scope catalog (a typo or a retired "
                                        "scope): fix the scope set", False))
            elif asked_as == "required":
                out.append(MissingScope(name, asked_as, "required but not in the current grant: the grant "
                                        "changed after the install", True))
            elif is_tier_gated(entry) and entry.sensitive:
                out.append(MissingScope(name, asked_as, f"Sensitive Data scope: needs {entry.tier_requirement} "
                                        "and Sensitive Data enabled in the account; HubSpot dropped it, so the "
                                        "account lacks one of them", False))
            elif is_tier_gated(entry):
                out.append(MissingScope(name, asked_as, f"needs {entry.tier_requirement}; HubSpot dropped it, so "
                                        "the account is on a lower tier. Re-consent cannot grant it until the "
                                        "account upgrades", False))
            elif entry.sensitive:
                out.append(MissingScope(name, asked_as, "Sensitive Data scope: the installing user did not grant "
                                        "it (needs a super admin)", True))
            else:
                out.append(MissingScope(name, asked_as, "optional and available on every tier: the installing "
                                        "user did not grant it", True))
    return out
