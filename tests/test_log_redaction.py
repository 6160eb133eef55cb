"""Secrets in URLs never reach a log line: the alert webhook URL (a Slack webhook URL is a credential),
callback codes and states, link ids, URL passwords, tokens in paths, at every level and from every logger,
httpx's own request log included; in-process and through ``python -m dashboard -v``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.context import build_context
from dashboard.refresh import service as refresh
from dashboard.security import logredact
from dashboard.security.logredact import REDACTED, redact, register_secrets
from dashboard.webhooks import alerts
from tests.utils.cli import SandboxCli
from tests.utils.lifecycle import ADMIN, FAST_RETRY, control, install_portal

HOOK_PATH = "/services/T0SECRET1/B0SECRET2/hooksecretXyZ0123456789abc"


def all_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join([caplog.text, *(r.getMessage() for r in caplog.records)])


def test_the_alert_webhook_url_is_redacted_at_every_level_including_httpx(
        settings_factory: Any, sandbox: Any, alert_sink: tuple[str, list[bytes]],
        caplog: pytest.LogCaptureFixture) -> None:
    sink, received = alert_sink
    hook = sink.rsplit("/", 1)[0] + HOOK_PATH
    ctx = build_context(settings_factory(dashboard_alert_webhook_url=hook), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    caplog.set_level(logging.DEBUG)
    try:
        assert alerts.send_alert(ctx, event="recovered", hub_id=1, hub_domain="a.test", status="active", detail="")
        logging.getLogger("dashboard.anything").debug("posting to %s", hook)  # even a careless line of ours
        logging.getLogger("some.library").error("failed: %s", hook)
    finally:
        ctx.close()
    assert received, "the alert was delivered"
    text = all_text(caplog)
    assert "HTTP Request: POST" in text  # httpx did log the request...
    assert "hooksecretXyZ" not in text and "T0SECRET1" not in text  # ...without the credential
    assert f"http://127.0.0.1/{REDACTED}" in text


def test_cli_verbose_never_prints_the_webhook_url(tmp_path: Path, sandbox: Any,
                                                  alert_sink: tuple[str, list[bytes]]) -> None:
    sink, received = alert_sink
    hook = sink.rsplit("/", 1)[0] + HOOK_PATH
    cli = SandboxCli(tmp_path, sandbox.url)
    settings = dict(DASHBOARD_ALERT_WEBHOOK_URL=hook, DASHBOARD_ALERT_FAILURE_THRESHOLD="1")
    from dashboard.settings import load_settings

    env = {**cli.env, **settings}
    ctx = build_context(load_settings(env, secrets_path=None), sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        hub = install_portal(ctx, sandbox.url).hub_id
    finally:
        ctx.close()
    control(sandbox.url, "uninstall", {"hub_id": hub})  # the next refresh needs re-auth: an alert goes out
    proc = cli("-v", "refresh", "--hub-id", str(hub), "--force", expect=1, **settings)
    assert received, (proc.stdout, proc.stderr)
    assert "HTTP Request: POST" in proc.stderr
    assert "hooksecretXyZ" not in proc.stdout + proc.stderr and "T0SECRET1" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("line", "secret"), [
    ("GET /install?code=abc123def456&state=s3cr3tstatevalue HTTP/1.1", "s3cr3tstatevalue"),
    ("GET /install?code=abc123def456&state=s3cr3tstatevalue HTTP/1.1", "abc123def456"),
    ("GET /connect/Zx8_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1", "Zx8_aaaaaaaa"),
    ("connecting to redis://:p4ssw0rd-value@cache:6379/0", "p4ssw0rd-value"),
    ("postgresql+psycopg://app:hunter2hunter2@db/x", "hunter2hunter2"),
    ("POST https://hooks.slack.com/services/T1/B2/abcdefabcdef", "abcdefabcdef"),
    ("GET https://api.hubapi.com/oauth/v1/refresh-tokens/rt-123-secret", "rt-123-secret"),
    ("Authorization: Bearer at-very-secret", "at-very-secret"),
])
def test_secret_shapes_in_urls_are_redacted(line: str, secret: str) -> None:
    assert secret not in redact(line)


@given(secret=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40),
       before=st.text(max_size=20), after=st.text(max_size=20))
def test_a_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    saved = dict(logredact._recent), logredact._secrets
    try:
        register_secrets([secret])
        assert secret not in redact(before + secret + after)
    finally:  # a random string must not be redacted from other tests' log lines
        logredact._recent.clear()
        logredact._recent.update(saved[0])
        logredact._secrets = saved[1]


def test_the_refresh_path_logs_nothing_secret_at_debug(ctx: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hub = install_portal(ctx, ctx.sandbox_url).hub_id
    refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True)
    assert "state=" not in all_text(caplog).replace(f"state={REDACTED}", "")
