"""Bad input in page fields: a clear error on the page, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.installs import scope_sets
from tests.utils.lifecycle import ADMIN
from tests.utils.pages import messages


def test_scope_builder_bad_fields_show_errors_and_save_nothing(open_page: Any, ctx: Any) -> None:
    at = open_page("pages/scopes.py")
    at.text_input(key="sb_account").input("12ab").run()
    assert not at.exception
    assert messages(at, "error"), "a bad account id must be explained"
    at.text_input(key="sb_name").input("x" * 200).run()
    at.button(key="sb_save").click().run()
    assert not at.exception
    assert scope_sets.list_scope_sets(ctx, actor=ADMIN) == {}


@pytest.mark.parametrize("bad", ["9223372036854775808", "１２", "1" * 5000])
def test_the_connections_page_says_a_bad_hub_link_is_bad_and_still_lists(open_page: Any, seeded: Any,
                                                                          bad: str) -> None:
    at = open_page(hub=bad)
    assert any("hub id in the link" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not [e.value for e in at.error if "hub" in e.value]  # a warning, and the page goes on
    assert at.get("arrow_data_frame") or at.dataframe  # the connections are still listed
