"""Hub ids outside 1..2**63-1, non-numbers and non-ASCII digits: one check (dashboard.hubspot.hub_ids) at every
entry point.

The API's side is in tests/test_api_v1.py; here the function itself, the CLI (one line, exit 2, no traceback,
nothing written), API keys, links and the Connections page's ``/?hub=``.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dashboard import repository
from dashboard.admin import api_keys
from dashboard.cli.main import main
from dashboard.context import AppContext
from dashboard.errors import InputError
from dashboard.hubspot.hub_ids import MAX_HUB_ID, check_hub_id, parse_hub_id
from dashboard.installs import links as install_links
from tests.utils.lifecycle import ADMIN

BAD = ["0", "-1", str(2**63), "1" * 50_000, "１２", "²", "١٢", "abc", "1.0", "+1", "1_0", "", " ", "12\n3", "1e3"]


@given(st.text())
@example("0000\x1f\x1f\x1f\x1f" + "\U00012544" * 24)  # escapes to 10 characters each (found by hypothesis in CI)
def test_any_text_is_a_hub_id_in_range_or_one_line_input_error(text: str) -> None:
    value, error = None, None
    try:
        value = parse_hub_id(text)
    except InputError as exc:
        error = exc
    if error is not None:
        assert error.code == "invalid_hub_id" and "\n" not in error.description and len(error.description) < 200
    else:
        assert value is not None and 1 <= value <= MAX_HUB_ID
        assert text.strip() == str(value).rjust(len(text.strip()), "0")


@given(st.integers(1, MAX_HUB_ID))
def test_every_hub_id_in_range_round_trips(value: int) -> None:
    assert parse_hub_id(f" {value} ") == check_hub_id(value) == value


@pytest.mark.parametrize("value", [0, -1, 2**63, 10**40, True])
def test_ints_out_of_range_are_refused(value: int) -> None:
    with pytest.raises(InputError):
        check_hub_id(value)


CLI_CASES = [["revoke", "--hub-id"], ["uninstall", "--hub-id"], ["test", "--hub-id"], ["audit", "--hub-id"],
             ["refresh", "--hub-id"], ["links", "reconsent"], ["api-keys", "create", "--name", "k", "--hub-id"],
             ["connections", "--after"], ["install", "start", "--scope", "oauth", "--account-id"],
             ["links", "create", "--scope", "oauth", "--account-id"]]


@pytest.mark.parametrize("args", CLI_CASES, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("bad", ["9223372036854775808", "1" * 50_000, "１２", "0", "x"], ids=lambda b: b[:10])
def test_the_cli_prints_one_line_and_exits_2(ctx: AppContext, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch, args: list[str], bad: str) -> None:
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", str(ctx.engine.url))
    assert main([*args, bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err[:300]
    assert "must be a positive whole number up to 9223372036854775807" in err and len(err) < 300, err[:300]


def test_api_keys_and_links_refuse_out_of_range_ids_and_write_nothing(ctx: AppContext) -> None:
    for hubs in ([10**40], [2**63], [0], [1, -5]):
        with pytest.raises(InputError):
            api_keys.create_key(ctx, actor=ADMIN, name="too-big", hub_ids=hubs)
    with pytest.raises(InputError):
        install_links.create_link(ctx, actor=ADMIN, scopes=["oauth"], account_id=2**63)
    with pytest.raises(InputError):
        install_links.create_reconsent_link(ctx, actor=ADMIN, hub_id=2**63)
    with ctx.session() as session:
        assert repository.list_api_keys(session=session) == []
        assert repository.list_audit_events(session=session, limit=100) == []
