"""Hostile text never reaches a terminal raw (issue 21, item 3): portal domains, emails, app names and HubSpot's
messages with ESC, BEL, a CR mid-line or a bidi override are shown escaped (``\\x1b``, ``\\u202e``) in every
CLI output (table, ``--csv``, ``--json``), every log line and every alert. The pages: tests/ui/test_hostile_text.py.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dashboard.cli import main as cli
from dashboard.cli.output import EscapingStream
from dashboard.context import build_context
from dashboard.installs import flow as install
from dashboard.security.crypto import generate_key_entry
from dashboard.security.logredact import install_redaction
from dashboard.security.terminal_text import escape_controls, escape_record
from dashboard.settings import load_settings
from dashboard.webhooks import alerts
from tests.utils.cli import cli_command, cli_env
from tests.utils.lifecycle import ADMIN, FAST_RETRY

# What must never reach a terminal: C0 and C1 controls, DEL, Unicode bidi controls, line/paragraph separators.
RAW = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# In output made of lines, only the line breaks and tabs of the output itself (CR only as part of CRLF).
RAW_IN_LINES = re.compile(r"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f\u061c\u200e\u200f\u2028\u2029"
                          r"\u202a-\u202e\u2066-\u2069]")
NAMED = {
    "ESC colour": ("evil\x1b[31m.example", "evil\\x1b[31m.example"),
    "OSC 8 hyperlink": ("\x1b]8;;http://evil.test\x07portal\x1b]8;;\x07", "\\x1b]8;;http://evil.test\\x07portal"
                                                                          "\\x1b]8;;\\x07"),
    "BEL": ("ding\x07", "ding\\x07"),
    "CR mid-line": ("acme.com\rhubspot.com", "acme.com\\rhubspot.com"),
    "RLO": ("\u202emoc.tobsbuh", "\\u202emoc.tobsbuh"),
    "isolates": ("a\u2066b\u2067c\u2068d\u2069", "a\\u2066b\\u2067c\\u2068d\\u2069"),
    "C1 CSI": ("x\x9b2J", "x\\x9b2J"),
    "newline and tab": ("a\nb\tc", "a\\nb\\tc"),
}
HOSTILE_DOMAIN = "acme\x1b[2J\x1b]0;pwned\x07.com\r\u202etest\u2066"
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.mark.parametrize(("raw", "shown"), NAMED.values(), ids=NAMED.keys())
def test_named_cases_are_escaped(raw: str, shown: str) -> None:
    assert escape_controls(raw) == shown


@given(text)
@example("\x1b\x07\r\u202e\x85\x7f")
def test_escaped_text_has_no_control_or_bidi_character_and_safe_text_is_unchanged(value: str) -> None:
    shown = escape_controls(value)
    assert not RAW.search(shown)
    assert escape_controls(shown) == shown  # escaping twice changes nothing more
    if not RAW.search(value):
        assert shown == value
    assert not RAW_IN_LINES.search(escape_controls(value, multiline=True))
    assert [line for line in escape_controls(value, multiline=True).split("\n")] == [
        escape_controls(line, multiline=True) for line in value.split("\n")]  # line breaks kept, nothing else


@given(st.lists(text, max_size=8))
def test_the_cli_stream_escapes_whatever_it_is_written_in_any_chunks(chunks: list[str]) -> None:
    target = io.StringIO()
    stream = EscapingStream(target)
    for chunk in chunks:
        stream.write(chunk)
    stream.end()
    written = target.getvalue()
    assert not RAW_IN_LINES.search(written)
    assert written.count("\n") == "".join(chunks).count("\n")  # one output line per line written
    assert written.replace("\r\n", "\n") == escape_controls("".join(chunks).replace("\r\n", "\n"), multiline=True)


# --- log lines ----------------------------------------------------------------------------------------------

def _logged(message: str, *args: Any, exc: BaseException | None = None) -> str:
    install_redaction()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("tests.terminal_text")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc is None:
            logger.warning(message, *args)
        else:
            try:
                raise exc
            except type(exc):
                logger.exception(message, *args)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


@settings(max_examples=50)
@given(text, text)
def test_every_log_line_escapes_foreign_text_in_its_arguments(domain: str, detail: str) -> None:
    line = _logged("refresh failed for hub %s (%s): %s", 7, domain, detail)
    assert line.endswith("\n") and line.count("\n") == 1  # one line, whatever the foreign text holds
    assert not RAW_IN_LINES.search(line)
    assert escape_controls(domain) in line and escape_controls(detail) in line


def test_a_traceback_quoting_foreign_text_is_escaped_and_argument_shapes_are_kept() -> None:
    logged = _logged("install failed for %s", HOSTILE_DOMAIN, exc=ValueError(f"HubSpot said {HOSTILE_DOMAIN}"))
    assert "Traceback" in logged and not RAW_IN_LINES.search(logged)
    assert f"ValueError: HubSpot said {escape_controls(HOSTILE_DOMAIN)}" in logged
    # uvicorn's access formatter unpacks record.args: the escaped record keeps a 5-tuple of the same types.
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/\x1b[2J", "1.1", 404), None)
    escaped = escape_record(record)
    assert isinstance(escaped.args, tuple) and escaped.args[2] == "/\\x1b[2J" and escaped.args[4] == 404


# --- alerts ---------------------------------------------------------------------------------------------------

def test_alert_text_and_fields_escape_control_characters(settings_factory: Any, sandbox: Any,
                                                          alert_sink: Any) -> None:
    hook_url, payloads = alert_sink
    ctx = build_context(settings_factory(dashboard_alert_webhook_url=hook_url), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    try:
        assert alerts.send_alert(ctx, event="needs_reauth", hub_id=7, hub_domain=HOSTILE_DOMAIN,
                                 status="needs_reauth", detail=f"HubSpot said \x1b[5m{HOSTILE_DOMAIN}")
    finally:
        ctx.close()
    body = json.loads(payloads[0])
    for field in ("text", "hub_domain", "detail"):
        assert not RAW.search(body[field]), field
    assert escape_controls(HOSTILE_DOMAIN) in body["hub_domain"] and "\\x1b[5m" in body["detail"]


# --- the real CLI ---------------------------------------------------------------------------------------------

_HUB_IDS = itertools.count(7_300_000)


@pytest.fixture
def env(tmp_path: Path, sandbox: Any) -> dict[str, str]:
    return {"DASHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "DASHBOARD_ENCRYPTION_KEYS": generate_key_entry("cli"),
            "DASHBOARD_SANDBOX_URL": sandbox.url, "DASHBOARD_DATA_DIR": str(tmp_path / "data")}


def _connect(env: dict[str, str], domain: str) -> int:
    """A sandbox account that HubSpot reports with this domain, connected."""
    url = env["DASHBOARD_SANDBOX_URL"]
    ctx = build_context(load_settings({}, secrets_path=None, dashboard_database_url=env["DASHBOARD_DATABASE_URL"],
                                      dashboard_encryption_keys=env["DASHBOARD_ENCRYPTION_KEYS"],
                                      dashboard_data_dir=env["DASHBOARD_DATA_DIR"]), start_sandbox=False,
                        sandbox_url=url)
    try:
        hub_id = next(_HUB_IDS)
        with httpx.Client(base_url=url, timeout=30) as http:
            http.post("/_sandbox/accounts", json={"hub_id": hub_id, "domain": domain}).raise_for_status()
            resp = http.post("/_sandbox/issue", json={"hub_id": hub_id, "scopes": ["oauth"]})
            resp.raise_for_status()
        return install.import_tokens(ctx, actor=ADMIN, token_response_json=resp.content).hub_id
    finally:
        ctx.close()


def test_the_real_cli_prints_hostile_domains_escaped_in_tables_csv_and_json(env: dict[str, str],
                                                                           tmp_path: Path) -> None:
    hub = _connect(env, HOSTILE_DOMAIN)
    shown = escape_controls(HOSTILE_DOMAIN)

    def run(*args: str) -> tuple[bytes, bytes]:
        done = subprocess.run(cli_command("--actor", "ops\x1b[31m@example.com", *args), env=cli_env(**env),
                              cwd=tmp_path, capture_output=True, timeout=60, check=False)  # bytes, CRs and all
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr

    run("revoke", "--hub-id", str(hub), "--local-only")  # an audit event by the hostile actor, on the domain
    for args in (("connections",), ("connections", "--csv"), ("connections", "--json"), ("audit",)):
        out, err = run(*args)
        for stream in (out, err):
            assert not RAW_IN_LINES.search(stream.decode("utf-8")), (args, stream)
    table = run("connections")[0].decode().splitlines()
    assert table == [f"{hub}\t{shown}\trevoked\t" + table[0].split("\t", 3)[3]]  # one line, its own columns
    [header, row] = list(csv.reader(io.StringIO(run("connections", "--csv")[0].decode(), newline="")))
    assert row[header.index("hub_domain")] == shown
    [listed] = json.loads(run("connections", "--json")[0])
    assert listed["hub_domain"] == HOSTILE_DOMAIN  # JSON-escaped, so a JSON reader gets the exact value
    assert "ops\\x1b[31m@example.com" in run("audit")[0].decode()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(domain=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30))
@example(domain=HOSTILE_DOMAIN)
def test_any_domain_is_printed_escaped_by_the_cli(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  domain: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    hub = _connect(env, domain)
    capsys.readouterr()
    for argv in (["connections", "--search", str(hub)], ["connections", "--csv", "--search", str(hub)],
                 ["connections", "--json", "--search", str(hub)]):
        assert cli.main(["--actor", "ops@example.com", *argv]) == 0
        printed = capsys.readouterr()
        assert not RAW_IN_LINES.search(printed.out + printed.err), argv
        if "--json" in argv:
            assert [c["hub_domain"] for c in json.loads(printed.out)] == [domain]
        elif "--csv" not in argv:
            assert printed.out == f"{hub}\t{escape_controls(domain)}\t" + printed.out.split("\t", 2)[2]
            assert printed.out.count("\n") == 1
