"""Scope catalog, ScopeSet, lint rules and diff (dashboard/scopes/catalog.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.errors import InputError, ScopeError
from dashboard.scopes.catalog import (
    MAX_SCOPE_LENGTH,
    Scope,
    ScopeCatalog,
    ScopeSet,
    is_tier_gated,
    load_catalog,
    validate_scope_name,
)
from dashboard.scopes.lint import LintFinding, ScopeMove, diff, lint

# RFC 6749 scope-token characters: printable ASCII except space, '"' and '\'.
TOKEN_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\')
WELL_FORMED = st.text(TOKEN_CHARS, min_size=1, max_size=40)
CATALOG_NAMES = st.sampled_from(load_catalog().names())
TOKEN_SET = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
BAD_CHARS = st.characters(exclude_characters=TOKEN_SET)
MALFORMED = st.one_of(
    st.just(""),
    st.builds(lambda a, bad, b: a + bad + b, st.text(TOKEN_CHARS, max_size=10), BAD_CHARS,
              st.text(TOKEN_CHARS, max_size=10)),
)
BASIC = ("oauth",)


def known(name: str) -> Scope:
    scope = load_catalog().get(name)
    assert scope is not None
    return scope


def codes(findings: list[LintFinding]) -> list[tuple[str, str | None]]:
    return [(f.code, f.scope) for f in findings]


# --- validate_scope_name --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["crm.objects.contacts.read", "tickets.sensitive.v2",
                                  "business_units_view.read", "oauth", "contacts-access",
                                  "X" * MAX_SCOPE_LENGTH])
def test_well_formed_names_pass(name):
    assert validate_scope_name(name) == name


@pytest.mark.parametrize("name", ["", " ", "crm.objects.contacts.read ", "a b", "a\tb", "a\nb", "a\x00",
                                  "\x7f", "contacts\u00e9", "crm\u200b.read", 'a"b', "a\\b",
                                  "X" * (MAX_SCOPE_LENGTH + 1)])
def test_malformed_names_raise_scope_error(name):
    with pytest.raises(ScopeError):
        validate_scope_name(name)


@pytest.mark.parametrize("value", [None, 5, b"oauth", ["oauth"]])
def test_non_text_raises_scope_error(value):
    with pytest.raises(ScopeError, match="must be text"):
        validate_scope_name(value)


def test_error_names_the_value_escaped_and_truncated():
    with pytest.raises(ScopeError) as info:
        validate_scope_name("bad\nname")
    assert "'bad\\nname'" in str(info.value)
    assert isinstance(info.value, InputError)
    with pytest.raises(ScopeError) as info:
        validate_scope_name("x y" * 500)
    assert len(str(info.value)) < 200
    assert "..." in str(info.value)


@given(st.one_of(WELL_FORMED, CATALOG_NAMES))
def test_any_well_formed_name_passes(name):
    assert validate_scope_name(name) == name


@given(MALFORMED)
def test_any_malformed_name_raises_only_scope_error(name):
    with pytest.raises(ScopeError):
        validate_scope_name(name)


# --- catalog --------------------------------------------------------------------------------------

def test_catalog_loads_once_with_every_entry():
    catalog = load_catalog()
    assert load_catalog() is catalog
    assert len(catalog) == 281
    assert len(list(catalog)) == len(catalog.names())


def test_get_and_contains():
    catalog = load_catalog()
    oauth = known("oauth")
    assert oauth == Scope("oauth", oauth.description, "OAuth", "Any account", False, None)
    assert "oauth" in catalog
    assert "no.such.scope" not in catalog
    assert catalog.get("no.such.scope") is None
    assert known("tickets.sensitive.v2").sensitive


def test_search_is_case_insensitive_over_name_description_and_group():
    catalog = load_catalog()
    assert catalog.search("CRM.OBJECTS.CONTACTS.READ")[0].name == "crm.objects.contacts.read"
    assert "cms.domains.read" in [s.name for s in catalog.search("connected domains")]  # description
    assert {s.group for s in catalog.search("scheduler")} >= {"Scheduler"}  # group
    assert catalog.search("zzz-nothing") == []
    assert len(catalog.search("")) == len(catalog)


def test_search_ranks_name_hits_before_description_hits():
    names = [s.name for s in load_catalog().search("contacts read")]
    assert names[0] == "crm.objects.contacts.read"
    assert names.index("crm.objects.contacts.read") < names.index("communication_preferences.read")


def test_groups_cover_the_catalog_sorted():
    groups = load_catalog().groups()
    assert list(groups) == sorted(groups)
    assert sum(len(v) for v in groups.values()) == len(load_catalog())
    for scopes in groups.values():
        assert [s.name for s in scopes] == sorted(s.name for s in scopes)
    assert [s.name for s in groups["OAuth"]] == ["oauth"]


def test_is_tier_gated():
    assert not is_tier_gated(known("oauth"))  # "Any account"
    assert is_tier_gated(known("crm.objects.custom.read"))
    assert not is_tier_gated(known("tickets.sensitive.v2"))  # tier unknown (None)


# --- ScopeSet -------------------------------------------------------------------------------------

def test_from_lists_sorts_dedupes_and_remembers_duplicates():
    s = ScopeSet.from_lists(["b", "a", "b"], iter(["c"]), ("d", "d"))
    assert (s.required, s.conditionally_required, s.optional) == (("a", "b"), ("c",), ("d",))
    assert s.duplicates == ("b", "d")
    assert s == ScopeSet(("a", "b"), ("c",), ("d",))  # duplicates take no part in equality


def test_direct_construction_is_normalized_too():
    assert ScopeSet(required=("b", "a")).required == ("a", "b")
    with pytest.raises(ScopeError):
        ScopeSet(required=("ok", "not ok"))


@pytest.mark.parametrize("kwargs", [{"required": "oauth"}, {"conditionally_required": "ab"},
                                    {"optional": "x"}])
def test_bare_string_is_refused(kwargs):
    with pytest.raises(ScopeError, match="list of names"):
        ScopeSet.from_lists(**kwargs)


def test_from_lists_validates_names():
    with pytest.raises(ScopeError, match="'crm objects'"):
        ScopeSet.from_lists(["oauth"], optional=["crm objects"])


def test_param_helpers():
    s = ScopeSet.from_lists(["oauth", "b"], ["a"], ["z"])
    assert s.scope_param() == ("b", "oauth", "a")
    assert s.optional_param() == ("z",)
    assert ScopeSet.from_lists(["a"], ["a"]).scope_param() == ("a",)
    assert s.buckets_of("a") == ("conditionally_required",)
    assert s.all_names() == ("a", "b", "oauth", "z")


# --- lint -----------------------------------------------------------------------------------------

def test_clean_set_has_no_findings():
    s = ScopeSet.from_lists(["oauth", "crm.objects.contacts.read"], optional=["crm.objects.custom.read"])
    assert lint(s) == []
    assert lint(s, app_scopes=s) == []


def test_empty_scope_parameter():
    findings = lint(ScopeSet.from_lists(optional=["oauth"]))
    assert ("empty_scope", None) in codes(findings)
    assert findings[0].level == "error"


def test_missing_oauth_and_oauth_not_required():
    assert ("missing_oauth", "oauth") in codes(lint(ScopeSet.from_lists(["crm.objects.contacts.read"])))
    s = ScopeSet.from_lists(["crm.objects.contacts.read"], ["oauth"])
    assert codes(lint(s)) == [("oauth_not_required", "oauth")]


def test_legacy_contacts_suggests_granular_scopes():
    [finding] = [f for f in lint(ScopeSet.from_lists([*BASIC, "contacts"])) if f.code == "legacy_contacts"]
    assert finding.level == "warning"
    assert "crm.objects.contacts.read" in finding.message
    assert "crm.objects.contacts.write" in finding.message


@pytest.mark.parametrize("s", [ScopeSet.from_lists([*BASIC, "crm.objects.custom.read"]),
                               ScopeSet.from_lists(BASIC, ["crm.objects.custom.read"])],
                         ids=["required", "conditionally_required"])
def test_tier_gated_scope_should_be_optional(s):
    [finding] = lint(s)
    assert (finding.level, finding.code, finding.scope) == ("warning", "tier_gated_required",
                                                             "crm.objects.custom.read")
    assert "Any Enterprise account" in finding.message
    assert "optional" in finding.message


def test_tier_gated_scope_as_optional_is_fine():
    assert lint(ScopeSet.from_lists(BASIC, optional=["automation", "crm.objects.leads.read"])) == []


def test_sensitive_scope_warns_about_enterprise_and_allow_listing():
    [finding] = lint(ScopeSet.from_lists(BASIC, optional=["tickets.sensitive.v2"]))
    assert finding.code == "sensitive"
    assert "Enterprise" in finding.message
    assert "allow-listed" in finding.message


def test_scope_in_several_buckets_is_an_error():
    s = ScopeSet.from_lists([*BASIC, "crm.objects.deals.read"], optional=["crm.objects.deals.read"])
    [finding] = lint(s)
    assert (finding.level, finding.code) == ("error", "multiple_buckets")
    assert finding.scope == "crm.objects.deals.read"


def test_duplicates_within_a_bucket_are_info():
    [finding] = lint(ScopeSet.from_lists([*BASIC, "oauth"]))
    assert (finding.level, finding.code, finding.scope) == ("info", "duplicate", "oauth")


def test_unknown_scope_suggests_a_close_name():
    [finding] = lint(ScopeSet.from_lists([*BASIC, "crm.objcts.deals.read"]))
    assert (finding.level, finding.code) == ("warning", "unknown_scope")
    assert "crm.objects.deals.read" in finding.message


def test_custom_catalog_is_used():
    catalog = ScopeCatalog([Scope("oauth", None, "OAuth", None, False, None)])
    assert codes(lint(ScopeSet.from_lists([*BASIC, "crm.objects.contacts.read"]), catalog=catalog)) == [
        ("unknown_scope", "crm.objects.contacts.read")]


APP = ScopeSet.from_lists(["oauth", "crm.objects.contacts.read"], ["crm.objects.deals.read"],
                          ["crm.objects.custom.read"])


def test_matches_app_settings():
    assert lint(ScopeSet.from_lists(["oauth", "crm.objects.contacts.read"]), app_scopes=APP) == []


def test_scope_not_in_app_settings_blocks_install():
    s = ScopeSet.from_lists([*APP.required, "crm.objects.companies.read"])
    assert codes(lint(s, app_scopes=APP)) == [("not_in_app", "crm.objects.companies.read")]


def test_app_optional_sent_as_required_is_a_mismatch():
    s = ScopeSet.from_lists([*APP.required, "crm.objects.custom.read"])
    assert ("bucket_mismatch", "crm.objects.custom.read") in codes(lint(s, app_scopes=APP))


def test_app_required_sent_as_optional_is_a_mismatch_not_also_missing():
    s = ScopeSet.from_lists(["oauth"], optional=["crm.objects.contacts.read"])
    assert codes(lint(s, app_scopes=APP)) == [("bucket_mismatch", "crm.objects.contacts.read")]


def test_app_conditionally_required_sent_as_optional_is_a_mismatch():
    s = ScopeSet.from_lists(APP.required, optional=["crm.objects.deals.read"])
    assert codes(lint(s, app_scopes=APP)) == [("bucket_mismatch", "crm.objects.deals.read")]


def test_required_vs_conditionally_required_only_differs():
    s = ScopeSet.from_lists([*APP.required, "crm.objects.deals.read"])
    [finding] = lint(s, app_scopes=APP)
    assert (finding.level, finding.code) == ("info", "bucket_differs")


def test_app_required_scope_missing_from_url():
    s = ScopeSet.from_lists(["oauth"])
    assert codes(lint(s, app_scopes=APP)) == [("missing_required", "crm.objects.contacts.read")]


def test_findings_are_ordered_by_level_and_one_line():
    s = ScopeSet.from_lists(["contacts", "contacts", "x.y"], optional=["contacts"])
    findings = lint(s, app_scopes=APP)
    levels = [f.level for f in findings]
    assert levels == sorted(levels, key=["error", "warning", "info"].index)
    assert all("\n" not in f.message and f.message for f in findings)


# --- diff -----------------------------------------------------------------------------------------

def test_diff_added_removed_moved():
    a = ScopeSet.from_lists(["oauth", "a"], ["b"], ["c"])
    b = ScopeSet.from_lists(["oauth", "b"], optional=["c", "d"])
    d = diff(a, b)
    assert d.added == {"required": (), "conditionally_required": (), "optional": ("d",)}
    assert d.removed == {"required": ("a",), "conditionally_required": (), "optional": ()}
    assert d.moved == (ScopeMove("b", "conditionally_required", "required"),)
    assert d


def test_diff_of_equal_sets_is_empty():
    s = ScopeSet.from_lists(["oauth"], optional=["x"])
    assert not diff(s, s)


def test_diff_with_a_scope_in_two_buckets_reports_per_bucket():
    d = diff(ScopeSet.from_lists(["a"]), ScopeSet.from_lists(["a"], optional=["a"]))
    assert d.added["optional"] == ("a",)
    assert not d.moved


@given(st.lists(WELL_FORMED, max_size=5), st.lists(WELL_FORMED, max_size=5),
       st.lists(WELL_FORMED, max_size=5), st.lists(WELL_FORMED, max_size=5))
def test_diff_is_symmetric(r1, o1, r2, o2):
    a, b = ScopeSet.from_lists(r1, optional=o1), ScopeSet.from_lists(r2, optional=o2)
    forward, backward = diff(a, b), diff(b, a)
    assert forward.added == backward.removed
    assert [(m.scope, m.target, m.source) for m in forward.moved] == [
        (m.scope, m.source, m.target) for m in backward.moved]
    assert bool(forward) == (a != b)
