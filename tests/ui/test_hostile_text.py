"""Control characters and bidi controls in foreign text are shown escaped on the pages (issue 21, item 3): a
portal domain with U+202E would render reversed (``moc.tobsbuh`` read as ``hubspot.com``), an ESC or a CR
would be passed to the browser as they are. Heading, table cells, audit rows: ``\\u202e``, ``\\x1b``."""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard import repository
from dashboard.context import AppContext
from dashboard.installs.flow import InstallResult
from dashboard.security.terminal_text import escape_controls
from dashboard.ui.text import code, md, plain
from tests.test_terminal_text import RAW
from tests.utils.pages import ACME, select_hubs, table

OpenPage = Callable[..., AppTest]
REVERSED = "\u202emoc.tobsbuh\x1b[31m\rpay.example\u2066"


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
@example(REVERSED)
@example("``")  # escaped backticks, which the reader once took for a code span (CI, hypothesis)
def test_markdown_of_foreign_text_shows_controls_escaped(value: str) -> None:
    for made in (md(value), code(value)):
        assert not RAW.search(made)
        assert not RAW.search(plain(made))
    # A run of white space is one space (md's rule for one line); the controls left are escaped, read back as such.
    assert plain(md(value)) == escape_controls(re.sub(r"\s+", " ", value))


def test_a_reversed_domain_is_shown_escaped_in_the_heading_table_and_activity(
        open_page: OpenPage, ctx: AppContext, seeded: dict[int, InstallResult]) -> None:
    with ctx.session() as session:
        repository.update_portal(session=session, hub_id=ACME, values={"hub_domain": REVERSED,
                                                                       "installed_by": "a\u202eb@example.com"})
        session.commit()
    at = open_page()
    shown = table(at).set_index("hub_id")
    assert shown.loc[ACME, "hub_domain"] == "\\u202emoc.tobsbuh\\x1b[31m\\rpay.example\\u2066"
    assert shown.loc[ACME, "installed_by"] == "a\\u202eb@example.com"
    at = select_hubs(at, ACME)
    heading = at.header[0].value
    assert not RAW.search(heading)
    assert "\\u202emoc.tobsbuh\\x1b[31m" in plain(heading)  # the \r is white space: one space, as md() joins lines
    for frame in [d.value for d in at.dataframe]:
        assert not frame.astype(str).map(lambda v: bool(RAW.search(str(v)))).to_numpy().any()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(domain=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30))
def test_any_domain_reaches_the_connections_page_escaped(open_page: OpenPage, ctx: AppContext,
                                                         seeded: dict[int, InstallResult], domain: str) -> None:
    with ctx.session() as session:
        repository.update_portal(session=session, hub_id=ACME, values={"hub_domain": domain})
        session.commit()
    at = select_hubs(open_page(), ACME)
    assert table(at).set_index("hub_id").loc[ACME, "hub_domain"] == escape_controls(domain)
    assert not RAW.search(at.header[0].value)
