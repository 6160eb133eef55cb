"""``python -m dashboard`` (issue #2): help, key generation, migrations, and exit code 2 for bad input.

The real entry point runs as a subprocess for the claims about the process (exit status, stderr, no
traceback, files on disk); the wider matrices of bad settings and bad usage call ``cli.main`` in-process.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import inspect

from dashboard.cli import main as cli
from dashboard.security.crypto import KeyRing, generate_key_entry
from dashboard.storage import db
from tests.utils.cli import TEST_CLIENT, cli_env, run_cli

COMMANDS = ["db", "keys", "sandbox", "install", "links", "connections", "refresh", "revoke", "uninstall", "test",
            "audit", "scopes", "workers", "apps", "api-keys", "api", "scope-sets", "token-info", "webhooks", "timeline",
            "health"]


def good_settings(tmp_path: Path) -> dict[str, str]:
    return {**TEST_CLIENT, "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("k1"),
            "DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'dashboard.db'}",
            "DASHBOARD_DATA_DIR": str(tmp_path / "data")}


def assert_nothing_created(tmp_path: Path) -> None:
    assert not (tmp_path / "db").exists()
    assert not (tmp_path / "data").exists()


# --- the real process ----------------------------------------------------------------------------------

def test_help_lists_every_command(tmp_path: Path) -> None:
    done = run_cli("--help", env=cli_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert listed == COMMANDS
    for name in COMMANDS:
        assert f"\n    {name} " in done.stdout  # each has a help line


def test_keys_generate_prints_a_valid_entry_without_any_configuration(tmp_path: Path) -> None:
    # Even with a broken configuration: generating a key is how you fix one.
    done = run_cli("keys", "generate", "--key-id", "2026q1",
                   env=cli_env(HUBSPOT_OAUTH_API="v9", DASHBOARD_ENCRYPTION_KEYS="broken"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [entry] = done.stdout.splitlines()
    assert KeyRing.parse(entry).key_ids == ("2026q1",)
    assert len(base64.b64decode(entry.split(":", 1)[1])) == 32
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_db_upgrade_on_a_fresh_sqlite_path(tmp_path: Path) -> None:
    settings = good_settings(tmp_path)
    done = run_cli("db", "upgrade", env=cli_env(**settings), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "database is up to date"
    path = tmp_path / "db" / "dashboard.db"
    assert path.is_file()
    engine = db.create_db_engine(settings["DASHBOARD_DATABASE_URL"])
    try:
        tables = set(inspect(engine).get_table_names())
        assert tables >= {"portal", "install_attempt", "audit_event", "scope_set"}
        assert db.current_revision(engine) is not None
    finally:
        engine.dispose()


@pytest.mark.parametrize(("setting", "value"), [
    ("HUBSPOT_OAUTH_API", "v9"),
    ("DASHBOARD_ENCRYPTION_KEYS", "k1:c2hvcnQta2V5LW1hdGVyaWFs"),
])
def test_bad_configuration_exits_2_with_one_line_and_no_database(
    tmp_path: Path, setting: str, value: str,
) -> None:
    done = run_cli("db", "upgrade", env=cli_env(**{**good_settings(tmp_path), setting: value}), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"error: {setting}: ")
    assert "Traceback" not in done.stderr
    assert "c2hvcnQta2V5" not in line  # never echoes key material
    assert TEST_CLIENT["HUBSPOT_CLIENT_SECRET"] not in done.stderr
    assert_nothing_created(tmp_path)


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    env = cli_env(**good_settings(tmp_path))
    done = run_cli("keys", "rotate", "--batch-size", "0", env=env, cwd=tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: python -m dashboard keys rotate: argument --batch-size")
    assert "Traceback" not in done.stderr
    assert_nothing_created(tmp_path)


# --- in-process matrices -------------------------------------------------------------------------------

@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml, no stray data/
    for name, value in good_settings(tmp_path).items():
        monkeypatch.setenv(name, value)
    return tmp_path


@pytest.mark.parametrize(("setting", "value"), [
    ("HUBSPOT_OAUTH_API", "v9"),
    ("HUBSPOT_REDIRECT_URI", "http://dashboard.example.com/install"),
    ("HUBSPOT_REDIRECT_URI", "https://192.168.1.10/install"),
    ("HUBSPOT_CLIENT_SECRET", "changethis"),
    ("DASHBOARD_DATABASE_URL", "mysql://dash:pw@db/dashboard"),
    ("DASHBOARD_LOCK_URL", "http://cache:6379"),
    ("DASHBOARD_REFRESH_LEEWAY_SECONDS", "-1"),
    ("DASHBOARD_ENCRYPTION_KEYS", "no-colon-here"),
    ("DASHBOARD_ENCRYPTION_KEYS", f"k1:{base64.b64encode(bytes(16)).decode()}"),
    ("DASHBOARD_ENCRYPTION_KEYS", "k1:***"),
    pytest.param("DASHBOARD_ENCRYPTION_KEYS", f"{generate_key_entry('k1')},{generate_key_entry('k1')}",
                 id="DASHBOARD_ENCRYPTION_KEYS-one-id-twice"),  # a stable id: pytest-xdist workers must agree
])
@pytest.mark.parametrize("command", [["db", "upgrade"], ["keys", "status"], ["connections"]])
def test_every_bad_setting_is_one_line_exit_2(
    configured: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    setting: str, value: str, command: list[str],
) -> None:
    monkeypatch.setenv(setting, value)
    assert cli.main(command) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"error: {setting}: ")
    assert_nothing_created(configured)


def test_missing_keys_outside_sandbox_is_exit_2(
    configured: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DASHBOARD_ENCRYPTION_KEYS")
    assert cli.main(["db", "upgrade"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: DASHBOARD_ENCRYPTION_KEYS: required when HUBSPOT_CLIENT_ID is set")
    assert_nothing_created(configured)


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["--no-such-flag", "db", "upgrade"],
    ["db"],
    ["db", "downgrade"],
    ["keys"],
    ["keys", "rotate", "--batch-size", "0"],
    ["keys", "rotate", "--batch-size", "-5"],
    ["keys", "rotate", "--batch-size", "ten"],
    ["refresh", "--hub-id", "abc"],
    ["revoke"],
    ["test", "--hub-id"],
    ["connections", "--status", "sleeping"],
    ["install", "start"],
    ["install", "start", "--scope", "oauth", "--account-id", "0"],
    ["install", "start", "--scope", "oauth", "--account-id", "-7"],
    ["links", "create", "--scope", "oauth", "--account-id", "12ab"],
], ids=lambda argv: " ".join(argv) or "no-arguments")
def test_bad_usage_is_one_line_exit_2(
    configured: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
) -> None:
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("error: python -m dashboard")
    assert_nothing_created(configured)
