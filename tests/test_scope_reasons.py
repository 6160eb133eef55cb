"""Reasons for missing scopes come from the catalog; re-consent is offered only where it can help."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dashboard.scopes.catalog import is_tier_gated, load_catalog
from dashboard.scopes.reasons import missing_scopes

CATALOG = load_catalog()
NAMES = st.sampled_from([*CATALOG.names(), "crm.objects.contact.read", "no.such.scope"])


@given(requested=st.lists(NAMES, max_size=6), optional=st.lists(NAMES, max_size=6),
       granted=st.lists(NAMES, max_size=8))
def test_every_missing_scope_has_one_reason(requested: list[str], optional: list[str], granted: list[str]) -> None:
    found = missing_scopes(requested=requested, optional=optional, granted=granted, catalog=CATALOG)
    want = {("required", s) for s in set(requested) - set(granted)} | \
           {("optional", s) for s in set(optional) - set(granted)}
    assert {(m.asked_as, m.scope) for m in found} == want
    for m in found:
        entry = CATALOG.get(m.scope)
        if entry is None:
            assert not m.reconsent_helps and "catalog" in m.reason
        elif m.asked_as == "optional" and is_tier_gated(entry):
            assert not m.reconsent_helps and str(entry.tier_requirement) in m.reason


def test_the_free_portals_missing_automation_says_why() -> None:
    (m,) = missing_scopes(requested=["oauth"], optional=["automation"], granted=["oauth"], catalog=CATALOG)
    assert "Marketing Hub Professional" in m.reason and not m.reconsent_helps



SCOPE_NAMES = st.lists(st.sampled_from(list(CATALOG.names())), max_size=5)


@given(required=SCOPE_NAMES, conditional=SCOPE_NAMES, optional=SCOPE_NAMES)
def test_scope_sets_round_trip_through_json_and_links(required: list[str], conditional: list[str],
                                                      optional: list[str]) -> None:
    from dashboard.scopes.catalog import ScopeSet
    from dashboard.scopes.formats import from_json, from_query, to_json, to_query

    scope_set = ScopeSet.from_lists(required=required, conditionally_required=conditional, optional=optional)
    assert from_json(to_json(scope_set)) == scope_set
    assert from_query(to_query(scope_set)) == (scope_set if any(scope_set.bucket(b) for b in
                                                               ("required", "conditionally_required", "optional"))
                                               else None)


def test_bad_json_is_one_clear_line() -> None:
    import pytest

    from dashboard.errors import InputError
    from dashboard.scopes.formats import from_json

    # The same parser as the CLI's `scope-sets import` (dashboard.scopes.catalog.parse_hubspot_json).
    for text, fragment in (("{", "not valid JSON"), ("[]", "is an object"), ('{"scopes": []}', "Unknown key"),
                           ('{"required": "oauth"}', "must be a list of names")):
        with pytest.raises(InputError, match=fragment):
            from_json(text)
