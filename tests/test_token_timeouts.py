"""Issue 22 item 4: a refresh whose outcome is unknown is never sent again with the same refresh token.

A read timeout means HubSpot may have used the refresh token (the sandbox, like a real server, processes a
request its client gave up on). With strict rotation, sending the old token again then gets ``invalid_grant``
and the new token is lost. Token calls get their own, longer budget (``DASHBOARD_TOKEN_TIMEOUT_SECONDS``), are
retried in the same call only when HubSpot cannot have used the token (no connection; 429 / 5xx with a body),
and an unknown outcome is recorded as a transient failure that waits for the normal backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dashboard import repository
from dashboard.context import AppContext, build_context
from dashboard.errors import RateLimitedError, RefreshOutcomeUnknown, TransientError
from dashboard.hubspot.client import HubSpotApp, HubSpotClient
from dashboard.models import PortalStatus, utcnow
from dashboard.refresh import service as refresh
from dashboard.security import vault
from tests.utils.lifecycle import ADMIN, FAST_RETRY, control, sandbox_tokens, stats
from tests.utils.seeding import seed_portals

TOKEN_BODY = b'{"access_token":"a","refresh_token":"r","expires_in":1800,"token_type":"bearer"}'


def _live_lost(ctx: AppContext, sandbox_url: str, hubs: list[int]) -> list[int]:
    live = {t["hub_id"]: t["token"] for t in sandbox_tokens(sandbox_url) if t["kind"] == "refresh" and t["active"]}
    with ctx.session() as s:
        stored = {h: vault.open_tokens(ctx.cipher, p).refresh_token
                  for h in hubs if (p := repository.get_portal(session=s, hub_id=h)) is not None}
    return [h for h in hubs if stored.get(h) != live.get(h)]


@pytest.mark.slow
def test_twelve_second_hubspot_with_strict_rotation_loses_no_token(settings_factory: Any, sandbox: Any) -> None:
    """The issue's figures as they are: a 10 s HTTP timeout, HubSpot answering token calls in 12 s."""
    ctx = build_context(settings_factory(), sandbox_url=sandbox.url, retry=FAST_RETRY)  # default timeouts
    try:
        assert ctx.settings.dashboard_http_timeout_seconds == 10 and ctx.hubspot.token_timeout == 30
        hubs = seed_portals(ctx, sandbox.url, 10)
        control(sandbox.url, "config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0, "latency_ms": 12_000})
        outcomes = refresh.refresh_due(ctx, concurrency=10, actor=ADMIN)
        lost = _live_lost(ctx, sandbox.url, hubs)
        s = stats(sandbox.url)
        print(f"\n12 s latency: results={sorted(o.result for o in outcomes)} lost={len(lost)} "
              f"grants={s['token_requests']['refresh_token']} invalid_grant={s['errors'].get('invalid_grant', 0)}")
        assert lost == []
        assert {o.result for o in outcomes} == {"refreshed"}
        assert s["token_requests"]["refresh_token"] == len(hubs) and not s["errors"].get("invalid_grant")
    finally:
        control(sandbox.url, "reset", {})
        ctx.close()


def test_a_refresh_that_timed_out_is_not_sent_again_and_waits_for_the_backoff(
    settings_factory: Any, sandbox: Any,
) -> None:
    # HubSpot answers after 1.5 s; the token call gives up after 0.5 s: HubSpot used the token all the same.
    ctx = build_context(settings_factory(dashboard_token_timeout_seconds=0.5), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    try:
        [hub] = seed_portals(ctx, sandbox.url, 1)
        control(sandbox.url, "config", {"rotate_refresh_tokens": True, "rotation_grace_s": 0, "latency_ms": 1500})
        [outcome] = refresh.refresh_due(ctx, actor=ADMIN)
        assert outcome.result == "failed" and "may have used the refresh token" in outcome.message
        with ctx.session() as s:
            portal = repository.get_portal(session=s, hub_id=hub)
        assert portal is not None
        assert portal.last_refresh_result == "outcome_unknown" and portal.status == PortalStatus.REFRESH_FAILING
        assert portal.next_attempt_at is not None and portal.next_attempt_at > utcnow()  # the normal backoff
        assert refresh.refresh_due(ctx, actor=ADMIN) == []  # not due again before it
        # Wait (bounded) for the sandbox to finish the one request it received: never a second one.
        control(sandbox.url, "config", {"latency_ms": 0})
        deadline = time.monotonic() + 1.5 + 10  # its latency, and room for a loaded machine
        while not stats(sandbox.url)["token_requests"]["refresh_token"] and time.monotonic() < deadline:
            time.sleep(0.05)
        s = stats(sandbox.url)
        assert s["token_requests"]["refresh_token"] == 1, "the refresh was sent again with the same token"
        assert not s["errors"].get("invalid_grant")
    finally:
        control(sandbox.url, "reset", {})
        ctx.close()


def _client(handler: Callable[[httpx.Request], httpx.Response], *, token_timeout: float = 5.0) -> HubSpotClient:
    app = HubSpotApp(client_id="c", client_secret="s", redirect_uri="http://localhost:8501/install",
                     app_base_url="http://hubspot.test", api_base_url="http://hubspot.test")
    return HubSpotClient(app, httpx.Client(transport=httpx.MockTransport(handler), timeout=1.0), retry=FAST_RETRY,
                         token_timeout=token_timeout)


def _counting(*answers: Callable[[httpx.Request], httpx.Response]) -> tuple[list[int], Any]:
    """A handler answering with ``answers`` in turn (the last one repeats), and the call count."""
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        return answers[min(calls[0], len(answers)) - 1](request)

    return calls, handler


def _raise(exc_type: type[Exception]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type("injected")  # type: ignore[call-arg]

    return answer


def _status(code: int, body: bytes) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, content=body)


OK = _status(200, TOKEN_BODY)


@pytest.mark.parametrize(("first", "retried"), [
    (_raise(httpx.ConnectError), True),  # never reached HubSpot
    (_raise(httpx.ConnectTimeout), True),
    (_status(429, b'{"status":"error","message":"rate limited"}'), True),  # HubSpot refused it
    (_status(502, b'{"status":"error","message":"bad gateway"}'), True),
    (_raise(httpx.ReadTimeout), False),  # sent; HubSpot may have used the token
    (_raise(httpx.RemoteProtocolError), False),
    (_raise(httpx.ReadError), False),
    (_status(502, b""), False),  # an empty 5xx: something in between gave up, HubSpot's answer is unknown
    (_status(504, b"  "), False),
], ids=["connect-error", "connect-timeout", "429", "502-body", "read-timeout", "dropped", "read-error",
        "502-empty", "504-blank"])
def test_token_calls_are_retried_only_when_hubspot_cannot_have_used_the_token(first: Any, retried: bool) -> None:
    calls, handler = _counting(first, OK)
    client = _client(handler)
    if retried:
        assert client.refresh("old").access_token == "a"
        assert calls[0] == 2
    else:
        with pytest.raises(RefreshOutcomeUnknown) as info:
            client.refresh("old")
        assert calls[0] == 1
        assert isinstance(info.value, TransientError) and info.value.code == "outcome_unknown"
        assert "old" not in str(info.value)


def test_token_calls_use_their_own_timeout_and_other_calls_keep_the_http_timeout() -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.extensions["timeout"]
        return httpx.Response(200, content=TOKEN_BODY if "oauth" in request.url.path else b"{}")

    client = _client(handler, token_timeout=7.0)
    client.refresh("old")
    client.api_get("at", "/crm/v3/objects/contacts")
    token = next(v for k, v in seen.items() if "oauth" in k)
    assert 6.5 < token["read"] <= 7.0 and token["connect"] == 1.0  # the budget left; connect stays short
    assert seen["/crm/v3/objects/contacts"]["read"] == 1.0


def test_retries_stay_within_the_token_budget() -> None:
    calls, handler = _counting(_status(429, b'{"status":"error"}'))
    client = _client(handler, token_timeout=5.0)
    with pytest.raises(RateLimitedError):
        client.refresh("old")
    assert calls[0] == FAST_RETRY.attempts
