"""The outbound edge: the sandbox probe (which sandbox sandbox mode reuses) and the webhook POST.

Real loopback servers throughout: the sandbox, and a tiny HTTP server whose answer each example sets.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import outbound
from dashboard.context import build_context
from dashboard.errors import OutboundError
from dashboard.sandbox import SANDBOX_CLIENT_ID, SandboxConfig, SandboxServer
from dashboard.settings import DEFAULT_REDIRECT_URI

OURS = DEFAULT_REDIRECT_URI


class Scripted:
    """A loopback HTTP server answering every request with ``status`` and ``body`` (set by the test)."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(scripted.status)
                self.send_header("Content-Length", str(len(scripted.body)))
                self.end_headers()
                self.wfile.write(scripted.body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


uris = st.sampled_from([OURS, "http://localhost:8502/install", "https://dash.example.com/install", OURS + "/"])
infos = st.one_of(
    st.fixed_dictionaries({"client_id": st.sampled_from([SANDBOX_CLIENT_ID, "other-client", ""]),
                           "redirect_uris": st.lists(uris, max_size=3) | st.just(OURS)}),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(info=infos, status=st.sampled_from([200, 200, 404, 500]))
def test_probe_accepts_exactly_a_sandbox_with_our_client_id_and_redirect_uri(scripted: Scripted, info: Any,
                                                                              status: int) -> None:
    scripted.status, scripted.body = status, json.dumps(info).encode()
    probe = outbound.probe_sandbox(scripted.url, client_id=SANDBOX_CLIENT_ID, redirect_uri=OURS, timeout=30)
    ours = (status == 200 and isinstance(info, dict) and info.get("client_id") == SANDBOX_CLIENT_ID
            and isinstance(info.get("redirect_uris"), list) and OURS in info["redirect_uris"])
    assert probe.verdict == ("accepts" if ours else "foreign")
    assert (probe.reason == "") == ours


def test_probe_of_a_closed_port_is_absent_and_of_garbage_is_foreign(scripted: Scripted) -> None:
    assert outbound.probe_sandbox(f"http://127.0.0.1:{_closed_port()}", client_id=SANDBOX_CLIENT_ID,
                                  redirect_uri=OURS).verdict == "absent"
    scripted.status, scripted.body = 200, b"<html>not json</html>"
    assert outbound.probe_sandbox(scripted.url, client_id=SANDBOX_CLIENT_ID, redirect_uri=OURS).verdict == "foreign"


def test_probe_of_a_port_that_accepts_but_never_answers_is_foreign_not_absent() -> None:
    # The port is taken: starting our own sandbox there would fail, so this is not "absent".
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(1)
        probe = outbound.probe_sandbox(f"http://127.0.0.1:{hung.getsockname()[1]}", client_id=SANDBOX_CLIENT_ID,
                                       redirect_uri=OURS, timeout=0.2)
    assert probe.verdict == "foreign" and "Timeout" in probe.reason


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.integers(200, 599))
def test_post_json_succeeds_exactly_on_2xx_and_never_names_the_url(scripted: Scripted, status: int) -> None:
    scripted.status, scripted.body = status, b""
    secret_url = f"{scripted.url}/hooks/T000/B000/s3cr3t-path"
    with httpx.Client() as http:
        if 200 <= status < 300:
            outbound.post_json(http, secret_url, {"text": "hi"}, timeout=5)
            return
        with pytest.raises(OutboundError) as failed:
            outbound.post_json(http, secret_url, {"text": "hi"}, timeout=5)
    assert str(status) in str(failed.value) and "s3cr3t" not in str(failed.value)


def test_post_json_to_nothing_is_an_outbound_error() -> None:
    with httpx.Client() as http, pytest.raises(OutboundError, match="no answer") as failed:
        outbound.post_json(http, f"http://127.0.0.1:{_closed_port()}/s3cr3t", {}, timeout=2)
    assert "s3cr3t" not in str(failed.value)
    assert isinstance(failed.value.__cause__, httpx.HTTPError)  # translated here, from the foreign error


# --- which sandbox sandbox mode uses -------------------------------------------------------------------

def _sandbox_mode_url(settings_factory: Any, port: int) -> tuple[str, str]:
    ctx = build_context(settings_factory(dashboard_sandbox_port=port))
    try:
        assert ctx.sandbox_url is not None
        probe = outbound.probe_sandbox(ctx.sandbox_url, client_id=SANDBOX_CLIENT_ID, redirect_uri=OURS)
        return ctx.sandbox_url, probe.verdict
    finally:
        ctx.close()


@pytest.mark.parametrize("config", [
    SandboxConfig(redirect_uris=["http://localhost:9999/install"]),  # a sandbox started for another dashboard
    SandboxConfig(client_id="someone-elses-app", redirect_uris=[OURS]),
], ids=["other-redirect-uri", "other-client-id"])
def test_a_foreign_sandbox_on_the_port_makes_us_start_our_own(settings_factory: Any, config: SandboxConfig,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    with SandboxServer(config).start() as foreign:
        port = int(foreign.url.rsplit(":", 1)[1])
        url, verdict = _sandbox_mode_url(settings_factory, port)
    assert url != foreign.url
    assert verdict == "accepts"
    assert "cannot take our installs" in caplog.text


def test_a_foreign_server_on_the_port_makes_us_start_our_own(settings_factory: Any, scripted: Scripted) -> None:
    scripted.status, scripted.body = 404, b"not found"
    url, verdict = _sandbox_mode_url(settings_factory, scripted.port)
    assert url != scripted.url and verdict == "accepts"


def test_a_sandbox_that_accepts_us_is_reused(settings_factory: Any, sandbox: SandboxServer) -> None:
    url, _ = _sandbox_mode_url(settings_factory, int(sandbox.url.rsplit(":", 1)[1]))
    assert url == sandbox.url


def test_a_free_sandbox_port_gets_our_sandbox(settings_factory: Any) -> None:
    port = _closed_port()
    url, verdict = _sandbox_mode_url(settings_factory, port)
    assert url == f"http://127.0.0.1:{port}" and verdict == "accepts"


def test_dashboard_sandbox_url_is_a_setting_used_as_is(settings_factory: Any, sandbox: SandboxServer) -> None:
    from dashboard.settings import load_settings

    assert load_settings({"DASHBOARD_SANDBOX_URL": sandbox.url + "/"}, secrets_path=None
                         ).dashboard_sandbox_url == sandbox.url
    ctx = build_context(settings_factory(dashboard_sandbox_url=sandbox.url))
    try:
        assert ctx.sandbox_url == sandbox.url
    finally:
        ctx.close()


def test_the_cli_in_sandbox_mode_leaves_a_foreign_sandbox_alone(tmp_path: Any) -> None:
    """As a new user meets it: another dashboard's sandbox holds the port; ours must not send installs there."""
    from dashboard.hubspot.authorize import parse_authorize_url
    from dashboard.security.crypto import generate_key_entry
    from tests.utils.cli import cli_env, run_cli

    with SandboxServer(SandboxConfig(redirect_uris=["http://localhost:9999/install"])).start() as foreign:
        port = foreign.url.rsplit(":", 1)[1]
        done = run_cli("install", "start", "--scope", "oauth", cwd=tmp_path, env=cli_env(
            DASHBOARD_SANDBOX_PORT=port, DASHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'd.db'}",
            DASHBOARD_ENCRYPTION_KEYS=generate_key_entry("k"), DASHBOARD_DATA_DIR=str(tmp_path / "data")))
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip().splitlines()[-1]
    assert parse_authorize_url(url).redirect_uri == OURS
    assert not url.startswith(foreign.url)
    assert "cannot take our installs" in done.stderr and "redirect URI" in done.stderr
