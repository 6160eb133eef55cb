"""HubSpot's JSON form of a scope set (``scope-sets export`` / ``import``): a round trip, and nothing else gets in."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given
from hypothesis import strategies as st

from dashboard.errors import ScopeError
from dashboard.scopes.catalog import (
    BUCKETS,
    ScopeSet,
    from_hubspot_json,
    load_catalog,
    parse_hubspot_json,
    to_hubspot_json,
)

NAMES = st.sampled_from(load_catalog().names()) | st.from_regex(r"[a-z][a-z0-9._-]{0,30}", fullmatch=True)
SETS = st.builds(ScopeSet.from_lists, st.lists(NAMES, max_size=6), st.lists(NAMES, max_size=6),
                 st.lists(NAMES, max_size=6))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=25), inner,
                                                                                max_size=4), max_leaves=12)


@given(SETS)
def test_export_then_import_is_the_same_set(scope_set: ScopeSet) -> None:
    exported = to_hubspot_json(scope_set)
    assert list(exported) == list(BUCKETS)
    assert parse_hubspot_json(json.dumps(exported)) == scope_set
    assert from_hubspot_json(exported) == scope_set


@given(st.fixed_dictionaries({}, optional={b: st.lists(NAMES, max_size=4) for b in BUCKETS}))
def test_a_missing_bucket_is_empty(data: dict[str, list[str]]) -> None:
    scope_set = from_hubspot_json(data)
    for bucket in BUCKETS:
        assert scope_set.bucket(bucket) == tuple(sorted(set(data.get(bucket, []))))


@given(JSON)
def test_any_other_json_is_a_scope_set_or_one_scope_error(data: object) -> None:
    try:
        scope_set = from_hubspot_json(data)
    except ScopeError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert "\n" not in message and len(message) < 300
        return
    assert isinstance(data, dict) and set(data) <= set(BUCKETS)
    assert to_hubspot_json(scope_set) == {b: sorted(set(data.get(b, []))) for b in BUCKETS}


@given(st.text(max_size=200) | st.just("[" * 100_000))
def test_any_text_is_a_scope_set_or_one_scope_error(text: str) -> None:
    with contextlib.suppress(ScopeError):
        parse_hubspot_json(text)
