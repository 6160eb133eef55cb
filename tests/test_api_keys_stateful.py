"""API keys as a state machine: random creates, revokes, clock moves and uses of live, revoked, expired,
tampered and unknown keys. After every step: a key authenticates exactly when it exists, is not revoked and
has not expired; the listing matches the model and never holds a key; restricted keys see only their portals."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from dashboard.admin import api_keys
from dashboard.context import build_context
from dashboard.errors import ApiKeyError
from dashboard.models import utcnow
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.utils.lifecycle import ADMIN


@dataclass
class Model:
    key: str
    prefix: str
    hubs: tuple[int, ...]
    expires_at: datetime | None
    revoked: bool = False

    def live(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now)


class ApiKeyMachine(RuleBasedStateMachine):
    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        work = Path(self.tmp.name)
        self.ctx = build_context(load_settings({}, secrets_path=None,
                                               dashboard_database_url=f"sqlite:///{work / 'd.db'}",
                                               dashboard_data_dir=work / "data",
                                               dashboard_encryption_keys=generate_key_entry("sm")),
                                 start_sandbox=False)
        self.now = utcnow()
        self.model: dict[str, Model] = {}

    def teardown(self) -> None:
        self.ctx.close()
        self.tmp.cleanup()

    @rule(target=keys, hubs=st.lists(st.integers(1, 6), max_size=3),
          minutes=st.one_of(st.none(), st.integers(1, 120)))
    def create(self, hubs: list[int], minutes: int | None) -> str:
        created = api_keys.create_key(self.ctx, actor=ADMIN, name=f"svc {len(self.model)}", hub_ids=hubs,
                                      expires_in=timedelta(minutes=minutes) if minutes else None)
        # The service stamps its own clock; the model keeps the expiry it stored.
        self.model[created.info.prefix] = Model(created.key, created.info.prefix, tuple(sorted(set(hubs))),
                                                created.info.expires_at)
        return created.info.prefix

    @rule(prefix=keys)
    def revoke(self, prefix: str) -> None:
        api_keys.revoke_key(self.ctx, actor=ADMIN, prefix=prefix)
        self.model[prefix].revoked = True

    @rule(minutes=st.integers(1, 90))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(prefix=keys, how=st.sampled_from(["as is", "tampered", "no bearer", "lowercase bearer"]))
    def use(self, prefix: str, how: str) -> None:
        m = self.model[prefix]
        header = {"as is": f"Bearer {m.key}", "lowercase bearer": f"bearer {m.key}", "no bearer": m.key,
                  "tampered": f"Bearer {m.key[:-2]}{'xy' if m.key[-2:] != 'xy' else 'zz'}"}[how]
        should = m.live(self.now) and how in ("as is", "lowercase bearer")
        if not should:
            with pytest.raises(ApiKeyError) as refused:
                api_keys.authenticate(self.ctx, header, now=self.now)
            assert m.key not in str(refused.value)
            return
        info = api_keys.authenticate(self.ctx, header, now=self.now)
        assert info.prefix == prefix
        for hub in range(1, 7):
            assert info.allows(hub, app=self.ctx.app_id) == (not m.hubs or hub in m.hubs)

    @invariant()
    def listing_matches(self) -> None:
        listed = {k.prefix: k for k in api_keys.list_keys(self.ctx, actor=ADMIN)}
        assert set(listed) == set(self.model)
        for prefix, k in listed.items():
            m = self.model[prefix]
            assert k.hub_ids == m.hubs and (k.revoked_at is not None) == m.revoked
            assert (k.state(self.now) == "active") == m.live(self.now)
            assert m.key not in repr(k)


ApiKeyMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
test_api_keys = ApiKeyMachine.TestCase
