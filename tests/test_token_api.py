"""The token API's core in-process: keys (hash only, roles, states), the rate limiter's bounds, tokens and reasons."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import repository
from dashboard.actors import OPERATOR, VIEWER, Actor
from dashboard.admin import api_keys
from dashboard.context import AppContext, build_context
from dashboard.errors import ApiKeyError, InputError, NotFoundError, PermissionDeniedError, PortalUnavailableError
from dashboard.models import utcnow
from dashboard.sandbox import SandboxServer
from dashboard.security.crypto import generate_key_entry
from dashboard.tokens.service import RateLimiter, TokenApi
from tests.utils.lifecycle import ADMIN, FAST_RETRY, install_portal, sandbox_post, stats


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """On SQLite and on PostgreSQL."""
    return any_db_url

@given(per_minute=st.integers(1, 200), calls=st.integers(1, 400))
@settings(max_examples=50, deadline=None)
def test_rate_limiter_never_allows_more_than_its_budget(per_minute: int, calls: int) -> None:
    """A moving window of 60 s (dashboard.proxy.limiter): a burst gets at most the budget; Retry-After is
    within the window. (The window never exceeding its limit over time: tests/proxy/test_limiter.py.)"""
    limiter = RateLimiter(per_minute)
    waits = [limiter.take("k") for _ in range(calls)]
    assert sum(w == 0 for w in waits) == min(calls, per_minute)
    assert all(0 < w <= 60 for w in waits if w)


def test_keys_are_stored_as_hashes_and_only_admins_create_them(ctx: AppContext) -> None:
    created = api_keys.create_key(ctx, actor=ADMIN, name="crm-sync", hub_ids=[5, 3, 5])
    assert created.key not in repr(created) and created.info.hub_ids == (3, 5)
    with ctx.session() as session:
        row = repository.get_api_key(session=session, prefix=created.info.prefix)
    assert row is not None and created.key not in str(row.model_dump()) and len(row.key_hash) == 64
    assert api_keys.authenticate(ctx, f"Bearer {created.key}").name == "crm-sync"
    for role in (VIEWER, OPERATOR):
        with pytest.raises(PermissionDeniedError):
            api_keys.create_key(ctx, actor=Actor("o@example.com", role), name="nope")
    for bad in ("", " ", "a" * 81, "<b>x</b>"):
        with pytest.raises(InputError):
            api_keys.create_key(ctx, actor=ADMIN, name=bad)
    with pytest.raises(NotFoundError):
        api_keys.revoke_key(ctx, actor=ADMIN, prefix="0123456789")


def test_authenticate_states(ctx: AppContext) -> None:
    key = api_keys.create_key(ctx, actor=ADMIN, name="x", expires_in=timedelta(hours=1))
    assert api_keys.authenticate(ctx, f"bearer {key.key}").prefix == key.info.prefix
    with pytest.raises(ApiKeyError, match="expired"):
        api_keys.authenticate(ctx, f"Bearer {key.key}", now=utcnow() + timedelta(hours=2))
    with pytest.raises(ApiKeyError, match="unknown"):
        api_keys.authenticate(ctx, f"Bearer {key.key[:-1]}{'A' if key.key[-1] != 'A' else 'B'}")
    api_keys.revoke_key(ctx, actor=ADMIN, prefix=key.info.prefix)
    with pytest.raises(ApiKeyError, match="revoked"):
        api_keys.authenticate(ctx, f"Bearer {key.key}")
    with pytest.raises(ApiKeyError):
        api_keys.authenticate(ctx, None)


def test_token_inside_the_leeway_is_refreshed_once_and_reads_are_audited_once(
        ctx: AppContext, sandbox: SandboxServer) -> None:
    sandbox_post(sandbox, "/_sandbox/config", {"access_token_ttl": 120})
    hub = install_portal(ctx, sandbox.url).hub_id
    sandbox_post(sandbox, "/_sandbox/config", {"access_token_ttl": 1800})
    key = api_keys.authenticate(ctx, f"Bearer {api_keys.create_key(ctx, actor=ADMIN, name='svc').key}")
    api = TokenApi(ctx)
    first = api.access_token(key, hub)
    again = [api.access_token(key, hub) for _ in range(5)]
    assert {t.access_token for t in again} == {first.access_token}
    assert first.access_token not in repr(first)
    assert stats(sandbox.url)["refresh_by_hub"][str(hub)] == 1
    with ctx.session() as session:
        events = repository.list_audit_events(session=session, actor="api:svc")
    assert sorted(e.action for e in events) == ["api.token", "refresh"]


@pytest.mark.parametrize("case", ["key_missing", "undecryptable"])
def test_unreadable_rows_are_409_with_their_reason(settings_factory: Any, sandbox: SandboxServer, case: str) -> None:
    first = generate_key_entry("k1")
    ctx = build_context(settings_factory(dashboard_encryption_keys=first), sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        hub = install_portal(ctx, sandbox.url).hub_id
        key = api_keys.authenticate(ctx, f"Bearer {api_keys.create_key(ctx, actor=ADMIN, name='svc').key}")
        if case == "undecryptable":
            with ctx.session() as session:
                portal = repository.get_portal(session=session, hub_id=hub)
                assert portal is not None and portal.access_token_ct is not None
                ct = portal.access_token_ct
                broken = ct[:-4] + ("AAAA" if ct[-4:] != "AAAA" else "BBBB")
                repository.update_portal(session=session, hub_id=hub, values={"access_token_ct": broken})
                session.commit()
            reader = ctx
        else:
            reader = build_context(settings_factory(dashboard_encryption_keys=generate_key_entry("k2")),
                                   sandbox_url=sandbox.url, retry=FAST_RETRY)
        try:
            with pytest.raises(PortalUnavailableError) as caught:
                TokenApi(reader).access_token(key, hub)
            assert caught.value.code == case and str(hub) in caught.value.description
        finally:
            if reader is not ctx:
                reader.close()
    finally:
        ctx.close()


@pytest.mark.parametrize("leases", ["database", pytest.param("redis", marks=pytest.mark.redis)])
def test_concurrent_token_calls_in_threads_cause_one_refresh(settings_factory: Any, sandbox: SandboxServer,
                                                             request: pytest.FixtureRequest, leases: str) -> None:
    extra: dict[str, Any] = {}
    prefix = None
    if leases == "redis":
        extra["dashboard_lock_url"] = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
    ctx = build_context(settings_factory(**extra), sandbox_url=sandbox.url, retry=FAST_RETRY, lock_prefix=prefix)
    try:
        assert ctx.leases.name == leases
        sandbox_post(sandbox, "/_sandbox/config", {"access_token_ttl": 120, "latency_ms": 50})
        hub = install_portal(ctx, sandbox.url).hub_id
        sandbox_post(sandbox, "/_sandbox/config", {"access_token_ttl": 1800})
        key = api_keys.authenticate(ctx, f"Bearer {api_keys.create_key(ctx, actor=ADMIN, name='svc').key}")
        api = TokenApi(ctx)
        with ThreadPoolExecutor(max_workers=40) as pool:
            tokens = list(pool.map(lambda _: api.access_token(key, hub).access_token, range(120)))
        assert len(set(tokens)) == 1
        assert stats(sandbox.url)["refresh_by_hub"][str(hub)] == 1
    finally:
        ctx.close()
