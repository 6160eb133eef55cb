"""The tier model and the shipped scope catalog (pure; no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.sandbox.catalog import scope_catalog
from dashboard.sandbox.tiers import parse_requirement, parse_tier, requirement_met, scope_available

REPO = Path(__file__).resolve().parents[2]
TRANSACTIONAL = "Marketing Hub Professional or Enterprise with Transactional Email Add-on"
WEBSITE = (
    "CMS Hub Professional or Enterprise, or Marketing Hub Professional or Enterprise with Website Add-on"
)


@pytest.mark.parametrize(
    ("tier", "requirement", "met"),
    [
        ("free", None, True),
        ("free", "Any account", True),
        ("free", "Any Starter account", False),
        ("sales-starter", "Any Starter account", True),
        ("free", "Any Enterprise account", False),
        ("marketing-enterprise", "Any Enterprise account", True),
        ("enterprise", "Any Enterprise", True),
        ("marketing-professional", "Marketing Hub Professional or Enterprise", True),
        ("marketing-professional", "Marketing Hub Pro/Ent", True),
        ("marketing-starter", "Marketing Hub Pro/Ent", False),
        ("sales-professional", "Marketing Hub Professional or Enterprise", False),
        ("sales-starter", "Sales Hub Starter+", True),
        ("sales-starter", "Sales Hub Starter, Professional, or Enterprise", True),
        ("marketing-enterprise", "Sales Hub Starter, Professional, or Enterprise", False),
        ("cms-professional", "CMS or Marketing Hub Pro/Ent", True),
        ("content-enterprise", "Content Hub Enterprise", True),
        ("cms-professional", "Content Hub Enterprise", False),
        ("service-professional", "Service Hub or Content Hub Professional or Enterprise", True),
        ("marketing-professional", WEBSITE, False),
        ("marketing-professional+website", WEBSITE, True),
        ("transactional-email", "Marketing Hub Enterprise or the transactional email add-on", True),
        ("marketing-professional", TRANSACTIONAL, False),
        ("marketing-professional+transactional-email", TRANSACTIONAL, True),
        ("enterprise", "Business Units Add-on", False),
        ("enterprise+business-units", "Business Units Add-on", True),
        ("free", "Enterprise (Sensitive Data requires an Enterprise subscription)", False),
        ("free", "something HubSpot will write next year", True),
    ],
)  # fmt: skip
def test_requirement_met(tier: str, requirement: str | None, met: bool) -> None:
    assert requirement_met(parse_tier(tier), requirement) is met


def test_every_catalog_requirement_is_understood() -> None:
    """Each tier text in the catalog parses to a real rule (no silent 'available' for known texts)."""
    for info in scope_catalog().values():
        text = info.tier_requirement
        if text is not None and text != "Any account":
            assert parse_requirement(text), text


def test_sensitive_scopes_need_an_enterprise_hub() -> None:
    info = scope_catalog()["crm.objects.contacts.sensitive.read.v2"]
    assert info.sensitive
    assert not scope_available(parse_tier("marketing-professional"), info.tier_requirement, sensitive=True)
    assert scope_available(parse_tier("service-enterprise"), info.tier_requirement, sensitive=True)


@pytest.mark.parametrize("bad", ["gold", "marketing-platinum", "crm-starter", "sales"])
def test_unknown_tiers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown tier part"):
        parse_tier(bad)


def test_tier_parsing_is_forgiving_about_case_and_separators() -> None:
    tier = parse_tier("Marketing-Pro + sales-ENT, business-units-addon")
    assert tier.level("marketing") == 2
    assert tier.level("sales") == 3
    assert tier.addons == {"business-units"}


def test_shipped_catalog_matches_the_dashboards_catalog() -> None:
    """The sandbox's scopes.json is derived from dashboard/data/hubspot-scopes.json; this catches drift."""
    source = json.loads((REPO / "dashboard" / "data" / "hubspot-scopes.json").read_text(encoding="utf-8"))
    shipped = json.loads((REPO / "dashboard" / "sandbox" / "scopes.json").read_text(encoding="utf-8"))
    assert shipped["source"]
    keys = ("name", "description", "group", "tier_requirement", "sensitive")
    assert shipped["scopes"] == [{k: entry[k] for k in keys} for entry in source]
    assert len(scope_catalog()) == len(source)
