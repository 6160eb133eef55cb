"""The proxy's calls to HubSpot (dashboard/hubspot/forwarding.py) through the transport seam: both ways send the
same request, decode the same answer, translate the same failures, and send an idempotent call at most twice
when a kept-alive connection turns out closed."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.errors import TransientError
from dashboard.hubspot.client import HubSpotApp
from dashboard.hubspot.forwarding import ATTEMPTS, Forwarder, RawResponse
from dashboard.hubspot.transport import build_http_client

APP = HubSpotApp("client", "secret", "http://localhost/cb", "http://hubspot.test", "http://api.hubspot.test")
FAILURES: dict[str, Callable[[httpx.Request], Exception]] = {
    "disconnected": lambda r: httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                                        request=r),
    "reset": lambda r: httpx.ReadError("connection reset", request=r),
    "broken_pipe": lambda r: httpx.WriteError("broken pipe", request=r),
    "refused": lambda r: httpx.ConnectError("refused", request=r),
    "timeout": lambda r: httpx.ReadTimeout("slow", request=r),
}


def forwarder(plan: list[str], seen: list[httpx.Request]) -> Forwarder:
    """A forwarder over a MockTransport that fails as ``plan`` says, attempt by attempt, then answers 200."""
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = plan[len(seen) - 1] if len(seen) <= len(plan) else "ok"
        if step != "ok":
            raise FAILURES[step](request)
        return httpx.Response(200, headers={"content-encoding": "gzip", "content-type": "application/json"},
                              content=gzip.compress(b'{"results": []}'))

    transport = httpx.MockTransport(handler)
    return Forwarder(APP, build_http_client(transport=transport, timeout=5, pool_size=4), transport=transport)


CALL = {"path": "/crm/v3/objects/contacts", "query": "limit=1",
        "headers": {"accept": "application/json", "authorization": "Bearer theirs"}}


def one_way(fwd: Forwarder, method: str, *, on_loop: bool) -> RawResponse | TransientError:
    """The blocking call or the event loop's, as its answer or our error."""
    async def go() -> RawResponse:
        return await fwd.forward_async("ours", method, **CALL)  # type: ignore[arg-type]

    try:
        return asyncio.run(go()) if on_loop else fwd.forward("ours", method, **CALL)  # type: ignore[arg-type]
    except TransientError as exc:
        return exc


def both_ways(fwd: Forwarder, method: str) -> list[RawResponse | TransientError]:
    return [one_way(fwd, method, on_loop=False), one_way(fwd, method, on_loop=True)]


def test_both_ways_send_our_token_and_the_query_and_decode_the_answer() -> None:
    seen: list[httpx.Request] = []
    answers = both_ways(forwarder([], seen), "GET")
    for answer in answers:
        assert isinstance(answer, RawResponse) and answer.status == 200 and answer.body == b'{"results": []}'
    for request in seen:
        assert str(request.url) == "http://api.hubspot.test/crm/v3/objects/contacts?limit=1"
        assert request.headers["authorization"] == "Bearer ours" and request.headers["accept"] == "application/json"
        assert request.headers["user-agent"].startswith("hubspot-oauth-dashboard/")


@pytest.mark.parametrize(("failure", "code"), [("refused", "hubspot_unreachable"), ("timeout", "hubspot_timeout")])
def test_failures_before_or_without_an_answer_are_not_sent_again(failure: str, code: str) -> None:
    seen: list[httpx.Request] = []
    answers = both_ways(forwarder([failure] * 4, seen), "GET")
    assert [a.code for a in answers if isinstance(a, TransientError)] == [code, code]
    assert len(seen) == 2  # one attempt each way


@settings(max_examples=60, deadline=None)
@given(method=st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH"]),
       plan=st.lists(st.sampled_from(["ok", "disconnected", "reset", "broken_pipe"]), max_size=4),
       on_loop=st.booleans())
def test_a_closed_kept_connection_is_retried_once_and_only_for_idempotent_methods(
        method: str, plan: list[str], on_loop: bool) -> None:
    seen: list[httpx.Request] = []
    answer = one_way(forwarder(plan, seen), method, on_loop=on_loop)
    attempts = ATTEMPTS if method in {"GET", "HEAD", "PUT", "DELETE"} else 1
    steps = (plan + ["ok"] * ATTEMPTS)[:attempts]
    calls = steps.index("ok") + 1 if "ok" in steps else attempts
    assert len(seen) == calls <= ATTEMPTS  # the bound, whatever the failures
    if "ok" in steps:
        assert isinstance(answer, RawResponse) and answer.status == 200
    else:
        assert isinstance(answer, TransientError) and answer.code == "hubspot_unreachable"
