"""Property-based tests of the callback handling: arbitrary input raises only our errors, never a token request."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.errors import DashboardError
from dashboard.installs import flow as install
from tests.utils.lifecycle import ADMIN, stats

PARAM_NAMES = st.sampled_from(["code", "state", "error", "error_description", "scope", "x", ""])
VALUES = st.one_of(st.text(max_size=300), st.text(alphabet="abcdefABCDEF0123456789-_", min_size=0, max_size=64),
                   st.just(""), st.text(min_size=2100, max_size=2200))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(PARAM_NAMES, VALUES, max_size=5))
def test_arbitrary_callback_params_raise_only_our_errors(ctx: Any, sandbox: Any, params: dict[str, str]) -> None:
    before = stats(sandbox.url)["token_requests"]["authorization_code"]
    with pytest.raises(DashboardError):
        install.finish_install(ctx, actor=ADMIN, params=params)
    # No valid state was given, so HubSpot's token endpoint was never asked.
    assert stats(sandbox.url)["token_requests"]["authorization_code"] == before


@settings(max_examples=150, deadline=None)
@given(query=st.text(max_size=500))
def test_arbitrary_callback_urls_parse_or_fail_with_our_error(query: str) -> None:
    try:
        params = install.callback_params("http://localhost:8501/install?" + query)
    except DashboardError:
        return
    assert isinstance(params, dict)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.text(max_size=20), st.text(max_size=100), max_size=6))
def test_arbitrary_callback_urls_end_to_end(ctx: Any, sandbox: Any, params: dict[str, str]) -> None:
    before = stats(sandbox.url)["token_requests"]["authorization_code"]
    try:
        parsed = install.callback_params("http://localhost:8501/install?" + urlencode(params))
        install.finish_install(ctx, actor=ADMIN, params=parsed)
    except DashboardError:
        pass
    else:
        pytest.fail("a callback without a state started here must not succeed")
    assert stats(sandbox.url)["token_requests"]["authorization_code"] == before
