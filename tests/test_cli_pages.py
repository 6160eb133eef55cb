"""The CLI does what the pages do: scope sets, lint, token metadata, audit filters (issue 15, item 9).

The real entry point runs as a subprocess for the journeys and exit codes; the random-input bounds
(lint findings, audit filters) call ``cli.main`` in-process against the same SQLite file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.cli import main as cli
from dashboard.context import build_context
from dashboard.models import AuditEvent
from dashboard.scopes import catalog as scopes
from dashboard.scopes import lint as scope_lint
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.utils.cli import cli_env, run_cli
from tests.utils.lifecycle import FAST_RETRY, install_portal, sandbox_tokens


@pytest.fixture
def env(tmp_path: Path, sandbox: Any) -> dict[str, str]:
    return {"DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("cli"),
            "DASHBOARD_SANDBOX_URL": sandbox.url, "DASHBOARD_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def run(env: dict[str, str], tmp_path: Path) -> Any:
    def go(*args: str, expect: int = 0, stdin: str | None = None) -> Any:
        done = run_cli("--actor", "ops@example.com", *args, env=cli_env(**env), cwd=tmp_path, input=stdin)
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        if expect:
            assert len(done.stderr.strip().splitlines()) == 1  # one clear line
        return done

    return go


def test_scope_sets_save_list_show_export_import_delete(run: Any, tmp_path: Path) -> None:
    run("scope-sets", "save", "Sales app", "--scope", "oauth", "crm.objects.contacts.read",
        "--conditional-scope", "crm.objects.deals.read", "--optional-scope", "automation")
    exported = json.loads(run("scope-sets", "export", "Sales app").stdout)
    assert exported == {"required": ["crm.objects.contacts.read", "oauth"],
                        "conditionally_required": ["crm.objects.deals.read"], "optional": ["automation"]}
    (tmp_path / "sales.json").write_text(json.dumps(exported))
    run("scope-sets", "import", str(tmp_path / "sales.json"), "--name", "Copy")
    run("scope-sets", "import", "-", "--name", "From stdin", stdin=json.dumps({"required": ["oauth"]}))
    listed = json.loads(run("scope-sets", "list", "--json").stdout)
    assert listed == {"Copy": exported, "From stdin": {"required": ["oauth"], "conditionally_required": [],
                                                       "optional": []}, "Sales app": exported}
    assert run("scope-sets", "list").stdout.splitlines()[1].startswith("From stdin\t1 required")
    shown = run("scope-sets", "show", "Copy").stdout.splitlines()
    assert shown == ["required:\tcrm.objects.contacts.read oauth", "conditionally required:\tcrm.objects.deals.read",
                     "optional:\tautomation"]
    run("scope-sets", "export", "Copy", "-o", str(tmp_path / "again.json"))
    assert json.loads((tmp_path / "again.json").read_text()) == exported
    run("scope-sets", "delete", "Copy")
    assert "no saved scope set" in run("scope-sets", "show", "Copy", expect=1).stderr
    run("scope-sets", "delete", "Copy", expect=1)
    events = json.loads(run("audit", "--json", "--action", "scope_sets.save").stdout)
    assert len(events) == 3 and {e["actor"] for e in events} == {"ops@example.com"}


@pytest.mark.parametrize(("content", "says"), [
    ("{not json", "not valid JSON"),
    ('{"required": ["oauth"], "optinal": ["automation"]}', "Unknown key 'optinal'"),
    ('{"required": "oauth"}', "must be a list"),
    ('["oauth"]', "is an object"),
    ('{"required": ["bad scope"]}', "scope"),
])
def test_scope_sets_import_refuses_what_is_not_hubspots_json(run: Any, tmp_path: Path, content: str,
                                                             says: str) -> None:
    (tmp_path / "set.json").write_text(content)
    assert says in run("scope-sets", "import", str(tmp_path / "set.json"), "--name", "x", expect=2).stderr
    assert json.loads(run("scope-sets", "list", "--json").stdout) == {}


def test_scope_sets_usage_errors_exit_2(run: Any, tmp_path: Path) -> None:
    assert "cannot read" in run("scope-sets", "import", str(tmp_path / "missing.json"), "--name", "x",
                                expect=2).stderr
    assert "at least one" in run("scope-sets", "save", "empty", expect=2).stderr
    run("scope-sets", "import", str(tmp_path / "missing.json"), expect=2)  # --name is required


def test_scopes_lint_exits_1_on_errors_and_0_otherwise(run: Any) -> None:
    clean = run("scopes", "lint", "--scope", "oauth", "crm.objects.contacts.read")
    assert clean.stdout == "" and clean.stderr.startswith("0 error(s)")
    bad = run("scopes", "lint", "--scope", "oauth", "--optional-scope", "oauth", "contacts", expect=1)
    codes = [line.split("\t")[1] for line in bad.stdout.splitlines()]
    assert codes[0] == "multiple_buckets" and "legacy_contacts" in codes
    run("scope-sets", "save", "risky", "--scope", "oauth", "--optional-scope", "crm.objects.contacts.read")
    assert run("scopes", "lint", "--set", "risky").returncode == 0
    run("scopes", "lint", "--set", "nope", expect=1)


CATALOG = scopes.load_catalog().names()
names = st.lists(st.sampled_from([*CATALOG[:40], "oauth", "contacts", "crm.objects.contactz.read"]), max_size=4)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(required=names, conditional=names, optional=names)
def test_lint_prints_exactly_the_scope_builders_findings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], required: list[str],
                                                         conditional: list[str], optional: list[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(Path(env["DASHBOARD_DATA_DIR"]).parent)  # no developer's .streamlit/secrets.toml
    argv = ["scopes", "lint", "--json"]
    for flag, group in (("--scope", required), ("--conditional-scope", conditional),
                        ("--optional-scope", optional)):
        if group:
            argv += [flag, *group]
    capsys.readouterr()
    code = cli.main(argv)
    printed = json.loads(capsys.readouterr().out)
    expected = scope_lint.lint(scopes.ScopeSet.from_lists(required, conditional, optional))
    assert printed == [{"level": f.level, "code": f.code, "scope": f.scope, "message": f.message} for f in expected]
    assert code == (1 if any(f.level == "error" for f in expected) else 0)


def test_token_info_prints_metadata_and_never_the_token(run: Any, env: dict[str, str], sandbox: Any) -> None:
    ctx = build_context(load_settings(env, secrets_path=None), retry=FAST_RETRY)
    try:
        hub = install_portal(ctx, sandbox.url, scopes=["oauth", "crm.objects.contacts.read"]).hub_id
    finally:
        ctx.close()
    info = json.loads(run("token-info", "--hub-id", str(hub), "--json").stdout)
    assert info["active"] is True and info["hub_id"] == hub
    assert set(info["scopes"]) >= {"oauth", "crm.objects.contacts.read"}
    plain = run("token-info", "--hub-id", str(hub))
    assert f"hub_id:\t{hub}" in plain.stdout.splitlines()
    for token in (t["token"] for t in sandbox_tokens(sandbox.url)):
        assert token not in plain.stdout + plain.stderr
    assert "no connected portal" in run("token-info", "--hub-id", "424242", expect=1).stderr


# --- audit filters: the Activity page's portal, action, outcome, actor and time range ------------------

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ACTIONS, OUTCOMES, WHO = ["install", "refresh", "revoke"], ["success", "failure"], ["ana@example.com", "cli:bo"]
SEEDED = [(T0 + timedelta(hours=7 * i), WHO[i % 2], [1, 2, None][i % 3], ACTIONS[i % 3 if i % 4 else 1],
           OUTCOMES[(i // 2) % 2]) for i in range(40)]


@pytest.fixture
def audited(env: dict[str, str]) -> dict[str, str]:
    ctx = build_context(load_settings(env, secrets_path=None), start_sandbox=False)
    try:
        with ctx.session() as session:
            session.add_all(AuditEvent(at=at, actor=who, hub_id=hub, action=action, outcome=outcome, detail=f"#{i}")
                            for i, (at, who, hub, action, outcome) in enumerate(SEEDED))
            session.commit()
    finally:
        ctx.close()
    return env


days = st.integers(0, 14).map(lambda d: (T0 + timedelta(days=d)).date().isoformat())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hub=st.sampled_from([None, 1, 2]), action=st.sampled_from([None, *ACTIONS]),
       outcome=st.sampled_from([None, *OUTCOMES]), who=st.sampled_from([None, *WHO]),
       since=st.none() | days, until=st.none() | days)
def test_audit_filters_select_exactly_the_matching_events(
    audited: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    hub: int | None, action: str | None, outcome: str | None, who: str | None, since: str | None,
    until: str | None,
) -> None:
    for name, value in audited.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(Path(audited["DASHBOARD_DATA_DIR"]).parent)  # no developer's .streamlit/secrets.toml
    argv = ["audit", "--json", "--limit", "1000"]
    for flag, value in (("--hub-id", hub), ("--action", action), ("--outcome", outcome), ("--who", who),
                        ("--since", since), ("--until", until)):
        if value is not None:
            argv += [flag, str(value)]
    capsys.readouterr()
    code = cli.main(argv)
    out, err = capsys.readouterr()
    if since and until and since > until:
        assert code == 2 and "after --until" in err
        return
    assert code == 0, err
    start = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None
    end = datetime.fromisoformat(until).replace(tzinfo=UTC) + timedelta(days=1) if until else None
    expected = [f"#{i}" for i, (at, w, h, a, o) in enumerate(SEEDED)
                if (hub is None or h == hub) and (action is None or a == action)
                and (outcome is None or o == outcome) and (who is None or w == who)
                and (start is None or at >= start) and (end is None or at < end)]
    assert [e["detail"] for e in json.loads(out)] == expected[::-1]  # newest first


def test_audit_refuses_a_bad_date_with_exit_2(run: Any) -> None:
    assert "must be a date" in run("audit", "--since", "yesterday", expect=2).stderr
    assert "from 1 to 100000" in run("audit", "--limit", "0", expect=2).stderr
