"""``python -m dashboard connections --csv [-o FILE]``: the Connections page's CSV export from the CLI (issue 15,
item 9). The bound: for any set of portals (hostile hub domains included) and any filter, the CLI writes
byte for byte what the page's "Export CSV" button offers, and no cell starts a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.cli import main as cli
from dashboard.connections import listing
from dashboard.connections.export import connections_csv
from dashboard.context import build_context
from dashboard.installs import flow as install
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.utils.cli import cli_env, run_cli
from tests.utils.lifecycle import ADMIN

_HUB_IDS = itertools.count(7_100_000)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def env(tmp_path: Path, sandbox: Any) -> dict[str, str]:
    return {"DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("cli"),
            "DASHBOARD_SANDBOX_URL": sandbox.url, "DASHBOARD_DATA_DIR": str(tmp_path / "data")}


def _connect(env: dict[str, str], domains: list[str]) -> None:
    """Real sandbox accounts with these domains, connected through the install service's token import."""
    url = env["DASHBOARD_SANDBOX_URL"]
    ctx = build_context(load_settings(), start_sandbox=False)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            for domain in domains:
                hub_id = next(_HUB_IDS)
                http.post("/_sandbox/accounts", json={"hub_id": hub_id, "domain": domain}).raise_for_status()
                resp = http.post("/_sandbox/issue", json={"hub_id": hub_id, "scopes": ["oauth"]})
                resp.raise_for_status()
                install.import_tokens(ctx, actor=ADMIN, token_response_json=resp.content)
    finally:
        ctx.close()


def _page_csv(search: str) -> str:
    ctx = build_context(load_settings(), start_sandbox=False)
    try:
        return connections_csv(listing.iter_connections(ctx, actor=ADMIN, filters=listing.Filters(search=search)))
    finally:
        ctx.close()


domains = st.lists(st.one_of(
    st.sampled_from(["acme.hubspot.com", "=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "a,b\"c"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20),
), max_size=5)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(new=domains, search=st.sampled_from(["", "acme", "=", "portal"]), to_file=st.booleans())
def test_cli_csv_is_the_pages_export(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str], new: list[str], search: str,
                                     to_file: bool) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no developer's .streamlit/secrets.toml
    _connect(env, new)
    argv = ["--actor", "ops@example.com", "connections", "--search", search]
    out = tmp_path / "export.csv"
    argv += ["-o", str(out)] if to_file else ["--csv"]
    capsys.readouterr()
    assert cli.main(argv) == 0
    printed = capsys.readouterr()
    written = out.read_bytes().decode("utf-8") if to_file else printed.out
    expected = _page_csv(search)
    assert written == expected
    rows = list(csv.reader(io.StringIO(written)))
    assert rows[0][0] == "hub_id"
    for row in rows[1:]:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row), row
    if to_file:
        assert printed.err.strip() == f"{len(rows) - 1} connection(s) written to {out}"
        assert not list(tmp_path.glob(".export.csv.partial"))


def test_csv_usage_and_write_errors_are_one_line(env: dict[str, str], tmp_path: Path) -> None:
    _ = env
    for args, says in ((("--csv", "--json"), "exclusive"),
                       (("-o", str(tmp_path / "missing" / "x.csv")), "cannot write")):
        done = run_cli("--actor", "ops@example.com", "connections", *args, env=cli_env(**env), cwd=tmp_path)
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr
    assert not list((tmp_path).rglob("*.partial"))
