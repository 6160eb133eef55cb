"""Every download button downloads in Chromium: Connections' "Export CSV" gives the filtered rows, the same
file as ``python -m dashboard connections --csv`` with the same filter, formula cells neutralised.

AppTest never clicks a download (it does not fetch the file), so only a browser shows that Streamlit could
turn the export into bytes: a ``SpooledTemporaryFile`` made it raise ``MediaFileStorageError`` on click.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboard import repository
from dashboard.context import AppContext, build_context
from dashboard.settings import load_settings
from tests.e2e.conftest import free_port, start_dashboard
from tests.utils.browser import keyed, type_and_commit, wait_for_app
from tests.utils.cli import cli_env, run_cli
from tests.utils.seeding import seed_portals

pytestmark = pytest.mark.e2e

# Domains a customer could choose; all but the last match the search "csvexport".
DOMAINS = ("=HYPERLINK(\"http://evil.test\")csvexport.test", "+1+2.csvexport.test", "@SUM(A1).csvexport.test",
           "-2.csvexport.test", "plain.csvexport.test", "unrelated.test")


@dataclass
class Dash:
    url: str
    work: Path
    env: dict[str, str]
    ctx: AppContext


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory, sandbox_url: str) -> Iterator[Dash]:
    work = tmp_path_factory.mktemp("e2e-export")
    port = free_port()
    redirect = f"http://localhost:{port}/install"
    settings = {"DASHBOARD_DATABASE_URL": f"sqlite:///{work / 'dashboard.db'}",
                "DASHBOARD_DATA_DIR": str(work / "data"), "DASHBOARD_SANDBOX_URL": sandbox_url,
                "HUBSPOT_REDIRECT_URI": redirect}
    server = start_dashboard(work=work, port=port, sandbox_url=sandbox_url, env=settings)
    ctx = build_context(load_settings({}, secrets_path=None, dashboard_database_url=settings["DASHBOARD_DATABASE_URL"],
                                      dashboard_data_dir=work / "data", hubspot_redirect_uri=redirect),
                        sandbox_url=sandbox_url)
    try:
        yield Dash(f"http://localhost:{port}", work, settings, ctx)
    finally:
        ctx.close()
        server.stop()


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_export_csv_downloads_the_filtered_rows_like_the_cli(dash: Dash, sandbox_url: str, page: Page) -> None:
    hubs = seed_portals(dash.ctx, sandbox_url, len(DOMAINS), due=False)
    with dash.ctx.session() as session:
        for hub, domain in zip(hubs, DOMAINS, strict=True):
            repository.update_portal(session=session, hub_id=hub, values={"hub_domain": domain})
        session.commit()

    page.goto(dash.url)
    wait_for_app(page)
    type_and_commit(page, "conn_search", "csvexport")
    # The button made by the run that applied the search (an earlier run's button exports every portal).
    expect(keyed(page, "conn_status_line")).to_contain_text(f"{len(DOMAINS) - 1} of {len(DOMAINS)} portals match")
    wait_for_app(page)
    with page.expect_download() as info:
        keyed(page, "conn_export").get_by_role("button", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename == "connections.csv"
    downloaded = Path(download.path()).read_bytes().decode("utf-8")

    exported = dash.work / "cli.csv"
    cli = run_cli("connections", "--csv", "--search", "csvexport", "-o", str(exported), env=cli_env(**dash.env),
                  cwd=dash.work)
    assert cli.returncode == 0, cli.stderr
    assert downloaded == exported.read_bytes().decode("utf-8")  # the same file, byte for byte (\r\n included)

    table = rows(downloaded)
    assert table[0][:3] == ["hub_id", "hub_domain", "status"]
    by_hub = {int(r[0]): r[1] for r in table[1:]}
    assert sorted(by_hub) == sorted(hubs[:-1])  # every filtered row, and only those
    for hub, domain in zip(hubs[:-1], DOMAINS, strict=False):
        expected = "'" + domain if domain.startswith(("=", "+", "-", "@")) else domain
        assert by_hub[hub] == expected  # formula cells start with an apostrophe
