"""Refresh leases over real backends: the database row (SQLite, PostgreSQL) and Redis.

Each backend: one owner at a time, only the owner releases (compare-and-delete), an expired lease can be
taken over, and many threads racing for one lease produce exactly one winner.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from dashboard import repository
from dashboard.models import Portal, utcnow
from dashboard.storage.db import create_db_engine, upgrade
from dashboard.storage.locks import DatabaseLeases, LeaseProvider, RedisLeases

HUB = 4242


def _engine_with_portal(url: str) -> Any:
    engine = create_db_engine(url)
    upgrade(engine)
    from sqlmodel import Session

    with Session(engine) as s:
        repository.save_portal(session=s, portal=Portal(hub_id=HUB, created_at=utcnow()))
        s.commit()
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("redis", marks=pytest.mark.redis)])
def leases(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[LeaseProvider]:
    if request.param == "redis":
        provider = RedisLeases(request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix"))
        yield provider
        provider.close()
        return
    url = f"sqlite:///{tmp_path / 'locks.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = _engine_with_portal(url)
    yield DatabaseLeases(engine)
    engine.dispose()


def test_one_owner_at_a_time_and_only_the_owner_releases(leases: LeaseProvider) -> None:
    ttl = timedelta(seconds=30)
    assert leases.acquire(HUB, "a", ttl)
    assert not leases.acquire(HUB, "b", ttl)
    leases.release(HUB, "b")  # not the owner: no effect
    assert not leases.acquire(HUB, "b", ttl)
    leases.release(HUB, "a")
    assert leases.acquire(HUB, "b", ttl)


def test_an_expired_lease_can_be_taken_over(leases: LeaseProvider) -> None:
    assert leases.acquire(HUB, "crashed-worker", timedelta(milliseconds=300))
    time.sleep(0.5)
    assert leases.acquire(HUB, "next-worker", timedelta(seconds=30))
    leases.release(HUB, "crashed-worker")  # the late release of the old owner must not free it
    assert not leases.acquire(HUB, "third", timedelta(seconds=30))


def test_racing_threads_get_exactly_one_lease(leases: LeaseProvider) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        won = list(pool.map(lambda n: leases.acquire(HUB, f"w{n}", timedelta(seconds=30)), range(64)))
    assert sum(won) == 1
