"""The proxy's pure rules: which paths may reach HubSpot, which headers cross, what a 429 means."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.errors import InputError
from dashboard.proxy import paths

GOOD = ["/crm/v3/objects/contacts", "/crm/v3/objects/contacts/12", "/account-info/v3/details",
        "/crm/v3/objects/contacts/ada%40example.com", "/crm/v3/objects/deals/batch/read"]
BAD = ["", "/", "crm/v3", "//evil.example.com/x", "/crm/../oauth/v1/token", "/crm/./x", "/crm/%2e%2e/x",
       "/crm/%2E%2E/x", "/crm%2fv3", "/crm%2Fv3", "/crm%5cv3", "/crm\\v3", "/http://evil.example.com/x",
       "/https:%2F%2Fevil.example.com", "/crm/%252e%252e/x", "/crm/%00", "/crm/a b", "/crm/%zz", "/crm//x",
       "/..", "/crm/v3/" + "a" * 3000, "/javascript:alert(1)", "/crm/%0d%0aHost:evil"]


@pytest.mark.parametrize("path", GOOD)
def test_api_paths_pass_unchanged(path: str) -> None:
    assert paths.resolve_path(path) == path
    assert paths.target_url("https://api.hubapi.com", path, "limit=1") == f"https://api.hubapi.com{path}?limit=1"


@pytest.mark.parametrize("path", BAD)
def test_paths_that_could_leave_the_api_are_refused(path: str) -> None:
    with pytest.raises(InputError) as caught:
        paths.resolve_path(path)
    assert caught.value.code == "bad_path"


@given(st.text(max_size=60))
def test_any_accepted_path_stays_on_the_api_host(tail: str) -> None:
    """Whatever a caller sends, an accepted path lands on the base URL's host, under its path."""
    try:
        path = paths.resolve_path(tail)
    except InputError:
        return
    url = paths.target_url("http://127.0.0.1:9/base", path, "")
    assert url.startswith("http://127.0.0.1:9/base/")
    assert "/../" not in url and "/./" not in url


def test_only_allowlisted_headers_cross() -> None:
    sent = [("Authorization", "Bearer caller"), ("Cookie", "s=1"), ("Connection", "keep-alive, x-secret"),
            ("X-Secret", "1"), ("Transfer-Encoding", "chunked"), ("Host", "evil"), ("Proxy-Authorization", "x"),
            ("Content-Type", "application/json"), ("Accept", "application/json"), ("X-Forwarded-For", "1.2.3.4")]
    assert paths.request_headers(sent) == {"content-type": "application/json", "accept": "application/json"}
    back = [("Set-Cookie", "a=b"), ("Content-Encoding", "gzip"), ("Content-Length", "5"),
            ("X-HubSpot-RateLimit-Max", "110"), ("Content-Type", "application/json"), ("Connection", "close")]
    assert paths.response_headers(back) == {"x-hubspot-ratelimit-max": "110", "content-type": "application/json"}


def test_window_learned_from_headers_and_retry_after() -> None:
    headers = {"x-hubspot-ratelimit-max": "110", "x-hubspot-ratelimit-interval-milliseconds": "10000"}
    assert paths.learned_window(headers) == paths.Window(110, 10_000)
    assert paths.learned_window({"x-hubspot-ratelimit-max": "abc"}) is None
    assert paths.learned_window({**headers, "x-hubspot-ratelimit-max": "0"}) is None
    assert paths.retry_after_seconds({}, "TEN_SECONDLY_ROLLING", 10_000) == 10
    assert paths.retry_after_seconds({"retry-after": "3"}, None, 10_000) == 3
    noon = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert paths.retry_after_seconds({}, "DAILY", 10_000, now=noon) == 12 * 3600
