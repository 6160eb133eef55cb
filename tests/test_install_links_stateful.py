"""Sendable links as a state machine: random interleavings of create, open, consent (grant or deny), revoke and
expiry, checked after every step against a model.

Invariants: a link installs at most once; the sandbox's token endpoint is asked exactly once per install that
the model allows (a refused link or state never reaches it); every link's listed status matches the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import update

from dashboard.context import AppContext
from dashboard.errors import AuthorizationDenied, InputError, StateError
from dashboard.installs import flow as install
from dashboard.installs import links as install_links
from dashboard.models import InstallLink, utcnow
from tests.utils.lifecycle import ADMIN, grant, stats


@dataclass
class ModelLink:
    token: str
    status: str = "open"
    installs: int = 0
    pending: list[str] = field(default_factory=list)  # authorization URLs from openings, not yet consented


def code_exchanges(sandbox_url: str) -> int:
    return int(stats(sandbox_url)["token_requests"].get("authorization_code", 0))


def machine(ctx: AppContext, sandbox_url: str) -> type[RuleBasedStateMachine]:
    class Links(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.links: dict[int, ModelLink] = {}
            self.installs = 0
            self.base = code_exchanges(sandbox_url)

        @rule()
        def create(self) -> None:
            link = install_links.create_link(ctx, actor=ADMIN, scopes=["oauth"])
            self.links[link.link_id] = ModelLink(link.url.rsplit("/", 1)[1])

        @precondition(lambda self: self.links)
        @rule(data=st.data())
        def open(self, data: Any) -> None:
            link_id = data.draw(st.sampled_from(sorted(self.links)))
            model = self.links[link_id]
            if model.status == "open":
                model.pending.append(install_links.open_link(ctx, token=model.token))
            else:
                with pytest.raises(StateError) as refused:
                    install_links.open_link(ctx, token=model.token)
                assert refused.value.code == f"link_{model.status}"

        @precondition(lambda self: any(m.pending for m in self.links.values()))
        @rule(data=st.data(), decision=st.sampled_from(["grant", "grant", "deny"]))
        def consent(self, data: Any, decision: str) -> None:
            link_id = data.draw(st.sampled_from(sorted(i for i, m in self.links.items() if m.pending)))
            model = self.links[link_id]
            url = model.pending.pop(data.draw(st.integers(0, len(model.pending) - 1)))
            params = install.callback_params(grant(sandbox_url, url, decision=decision))
            if decision == "deny":
                with pytest.raises(AuthorizationDenied):
                    install.finish_install_for_state_holder(ctx, params=params)
            elif model.status == "open":
                install.finish_install_for_state_holder(ctx, params=params)
                model.status, model.installs = "used", model.installs + 1
                self.installs += 1
            else:
                with pytest.raises(StateError) as refused:
                    install.finish_install_for_state_holder(ctx, params=params)
                assert refused.value.code == "link_used"

        @precondition(lambda self: self.links)
        @rule(data=st.data())
        def revoke(self, data: Any) -> None:
            link_id = data.draw(st.sampled_from(sorted(self.links)))
            model = self.links[link_id]
            if model.status == "open":
                install_links.revoke_link(ctx, actor=ADMIN, link_id=link_id)
                model.status = "revoked"
            else:
                with pytest.raises(InputError):
                    install_links.revoke_link(ctx, actor=ADMIN, link_id=link_id)

        @precondition(lambda self: self.links)
        @rule(data=st.data())
        def expire(self, data: Any) -> None:
            link_id = data.draw(st.sampled_from(sorted(self.links)))
            with ctx.session() as session:
                session.execute(update(InstallLink).where(InstallLink.id == link_id)  # type: ignore[arg-type]
                                .values(expires_at=utcnow() - timedelta(seconds=1)))
                session.commit()
            if self.links[link_id].status == "open":
                self.links[link_id].status = "expired"

        @invariant()
        def matches_the_model(self) -> None:
            if not hasattr(self, "links"):
                return
            assert all(m.installs <= 1 for m in self.links.values())
            assert code_exchanges(sandbox_url) - self.base == self.installs
            listed = {link.link_id: link.status for link in install_links.list_links(ctx, actor=ADMIN)}
            assert {i: listed[i] for i in self.links} == {i: m.status for i, m in self.links.items()}

    return Links


def test_links_under_random_interleavings(ctx: AppContext) -> None:
    assert ctx.sandbox_url is not None
    run_state_machine_as_test(machine(ctx, ctx.sandbox_url), settings=settings(
        max_examples=12, stateful_step_count=14, deadline=None, suppress_health_check=list(HealthCheck)))
