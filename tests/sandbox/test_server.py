"""Starting and stopping the server, the CLI, and ``python -m dashboard.sandbox``."""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from dashboard.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SandboxAccount,
    SandboxConfig,
    SandboxServer,
)
from dashboard.sandbox.cli import build_parser, config_from_args, main

REPO = Path(__file__).resolve().parents[2]


def test_start_stop_many_times() -> None:
    urls = set()
    for _ in range(3):
        with SandboxServer(SandboxConfig()).start() as sb:
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sb.url)
            assert httpx.get(f"{sb.url}/_sandbox/stats").status_code == 200
            urls.add(sb.url)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{sb.url}/_sandbox/stats")
    assert len(urls) >= 2  # port 0 picks a free port each time


def test_side_by_side_servers_have_separate_state() -> None:
    with SandboxServer().start() as one, SandboxServer().start() as two:
        httpx.post(f"{one.url}/_sandbox/accounts", json={"count": 2}).raise_for_status()
        assert len(httpx.get(f"{one.url}/_sandbox/accounts").json()["accounts"]) == 5
        assert len(httpx.get(f"{two.url}/_sandbox/accounts").json()["accounts"]) == 3


def test_stop_is_prompt_even_with_a_hanging_request() -> None:
    sb = SandboxServer().start()
    httpx.post(f"{sb.url}/_sandbox/faults", json={"target": "token", "timeout_rate": 1}).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sb.url}/oauth/v1/token", data={}, timeout=0.2)
    started = time.perf_counter()
    sb.stop()
    assert time.perf_counter() - started < 3
    assert not sb.running
    sb.stop()  # idempotent


def test_a_taken_port_raises_oserror() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            SandboxServer(SandboxConfig(port=port)).start()


def test_bad_app_scopes_fail_before_serving() -> None:
    with pytest.raises(ValueError, match=r"made\.up"):
        SandboxServer(SandboxConfig(app_scopes={"required": ["made.up"]})).start()


def test_bad_account_tiers_fail_before_serving() -> None:
    with pytest.raises(ValueError, match="platinum"):
        SandboxServer(SandboxConfig(accounts=[SandboxAccount(1, "x.hubspot.com", "platinum")])).start()


def test_url_needs_a_running_server() -> None:
    with pytest.raises(RuntimeError):
        _ = SandboxServer().url


def test_quiet_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with SandboxServer().start() as sb:
        for _ in range(3):
            httpx.get(f"{sb.url}/_sandbox/stats")
    assert not [r for r in caplog.records if r.name.startswith("uvicorn") and r.levelno < logging.WARNING]


def test_cli_arguments_build_the_config(tmp_path: Path) -> None:
    scopes = tmp_path / "scopes.json"
    scopes.write_text(json.dumps({"required": ["oauth"], "optional": ["automation"]}))
    args = build_parser().parse_args(
        [
            "--port", "0",
            "--redirect-uri", "http://localhost:1/a", "--redirect-uri", "http://localhost:2/b",
            "--app-scopes", str(scopes),
            "--no-rotate-refresh-tokens", "--code-ttl", "5", "--latency-ms", "20",
        ]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.redirect_uris == ["http://localhost:1/a", "http://localhost:2/b"]
    assert config.app_scopes == {
        "required": ["oauth"],
        "conditionally_required": [],
        "optional": ["automation"],
    }
    assert (config.rotate_refresh_tokens, config.code_ttl, config.latency_ms) == (False, 5, 20)
    defaults = config_from_args(build_parser().parse_args([]))
    assert (defaults.port, defaults.client_id, defaults.rotate_refresh_tokens) == (
        8765,
        SANDBOX_CLIENT_ID,
        False,
    )
    assert (defaults.rich_token_body, defaults.uninstall_mode, defaults.revoke_dead_token_status) == (
        False, "bad_refresh_token", 200
    )
    switched = config_from_args(build_parser().parse_args(
        ["--rotate-refresh-tokens", "--rich-token-body", "--uninstall-mode", "bad_hub",
         "--revoke-dead-token-status", "404"]))
    assert (switched.rotate_refresh_tokens, switched.rich_token_body, switched.uninstall_mode,
            switched.revoke_dead_token_status) == (True, True, "bad_hub", 404)


def test_cli_refuses_a_bad_scopes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"required": ["made.up"]}')
    assert main(["--port", "0", "--app-scopes", str(bad)]) == 2
    assert "made.up" in capsys.readouterr().err
    assert main(["--port", "0", "--app-scopes", str(tmp_path / "missing.json")]) == 2


START_TIMEOUT = 60  # seconds to the banner's last line: interpreter start and imports on a loaded machine
STOP_TIMEOUT = 60  # seconds from Ctrl-C to exit: above the sandbox's own 10 s bound on its server thread


def _default_sigint() -> None:
    """Ctrl-C in a terminal reaches a foreground process whose SIGINT has its default action. A test run
    started in the background by a non-interactive shell (``pytest ... &``, as CI scripts and loops do) has
    SIGINT ignored, every child inherits that, and Python then installs no KeyboardInterrupt handler: the
    sandbox rightly ignores the signal, and this test hung until its timeout. So the child gets the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_python_m_runs_until_ctrl_c_and_never_prints_the_secret() -> None:
    """Ctrl-C ends the process cleanly. The waits bound a hang, not a speed: the sandbox's own stop joins its
    server thread for up to 10 s, and a loaded machine adds interpreter start and exit on top."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "dashboard.sandbox", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        assert proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        # Read the banner line by line up to its last line, in a thread so a silent process fails the test
        # instead of blocking it; communicate() would miss what readline buffered.
        reader = threading.Thread(target=lambda: [lines.put(line) for line in iter(proc.stdout.readline, "")],
                                  daemon=True)
        reader.start()
        banner = [lines.get(timeout=START_TIMEOUT)]
        while "Ctrl-C" not in banner[-1]:
            banner.append(lines.get(timeout=START_TIMEOUT))
        url = re.search(r"http://127\.0\.0\.1:\d+", banner[0])
        assert url, banner
        assert httpx.get(f"{url.group(0)}/_sandbox/stats", timeout=30).status_code == 200
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack: where it hangs
            raise AssertionError(f"still running {STOP_TIMEOUT} s after Ctrl-C:\n{proc.communicate()[1]}") from None
        reader.join(timeout=STOP_TIMEOUT)
        assert proc.stderr is not None
        err = proc.stderr.read()
        out = "".join(list(lines.queue))  # the reader has ended: stdout closed with the process
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    printed = "".join(banner) + out + err
    assert SANDBOX_CLIENT_ID in printed
    assert SANDBOX_CLIENT_SECRET not in printed
    assert "Traceback" not in err
