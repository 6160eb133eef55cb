"""Bad input through every entry point: a clear message, and nothing written."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import repository
from dashboard.connections import service as connections
from dashboard.connections.export import connections_csv
from dashboard.connections.service import Connection
from dashboard.errors import DashboardError, InputError, ScopeError
from dashboard.installs import flow as install
from dashboard.installs import scope_sets
from dashboard.scopes.catalog import ScopeSet
from tests.utils.lifecycle import ADMIN, control, install_portal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_csv_export_of_odd_domain_names_from_a_real_install(ctx: Any, sandbox: Any) -> None:
    odd = ["=HYPERLINK(\"http://evil\")", "+1-555", "-2+3", "@SUM(A1)", "a,\"b\"\nc"]
    hubs = []
    for n, domain in enumerate(odd):
        control(sandbox.url, "accounts", {"hub_id": 7000001 + n, "domain": domain, "tier": "free"})
        hubs.append(install_portal(ctx, sandbox.url, account_id=7000001 + n).hub_id)
    text = connections_csv(connections.list_connections(ctx, actor=ADMIN))
    rows = list(csv.DictReader(io.StringIO(text)))
    domains = [r["hub_domain"] for r in rows]
    assert all(not d.startswith(FORMULA_STARTS) for d in domains)
    assert "'=HYPERLINK(\"http://evil\")" in domains and "a,\"b\"\\nc" in domains  # quoted, line break escaped


@settings(max_examples=200, deadline=None)
@given(domain=st.text(max_size=40), who=st.text(max_size=40))
def test_csv_export_never_emits_a_formula_cell(domain: str, who: str) -> None:
    conn = Connection(hub_id=1, hub_domain=domain, status="healthy", stored_status="active", expires_at=None,
                      granted_scopes=(who,), requested_scopes=(), requested_optional_scopes=(),
                      missing_optional_scopes=(), last_refresh_at=None, last_refresh_result=None, last_error=who,
                      consecutive_failures=0, installed_by=who, installed_at=None, token_fingerprint=None)
    for cell in _cells(connections_csv([conn])):
        assert not cell.startswith(FORMULA_STARTS)


@pytest.mark.parametrize("name", ["", "   ", "x" * 121, "bad\u0000name", "tab\tname\u0007"])
def test_bad_scope_set_names_are_refused_and_nothing_saved(ctx: Any, name: str) -> None:
    with pytest.raises(InputError):
        scope_sets.save_scope_set(ctx, name, ScopeSet.from_lists(["oauth"]), actor=ADMIN)
    assert scope_sets.list_scope_sets(ctx, actor=ADMIN) == {}


@pytest.mark.parametrize("scopes", [["bad scope"], [""], ["oauth\n"], ["é.read"], ["a\"b"]])
def test_bad_scope_names_refused_before_anything_is_written(ctx: Any, scopes: list[str]) -> None:
    with pytest.raises(ScopeError):
        install.start_install(ctx, actor=ADMIN, scopes=scopes)
    with ctx.session() as s:
        assert repository.list_audit_events(session=s, action="install.start") == []


@pytest.mark.parametrize("account", [0, -5])
def test_bad_account_ids_refused(ctx: Any, account: int) -> None:
    with pytest.raises(DashboardError):
        install.start_install(ctx, actor=ADMIN, scopes=["oauth"], account_id=account)
