"""Every listing command in a pipe whose reader has gone (``python -m dashboard audit | head -1``): no traceback.

The reader's end is closed before the command starts, so its first write fails with EPIPE whatever the
output's size (a real ``head -1`` races the writer; this does not).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dashboard.security.crypto import generate_key_entry
from tests.utils.cli import TEST_CLIENT, cli_command, cli_env, run_cli

LISTINGS = [("audit",), ("audit", "--json"), ("connections",), ("connections", "--json"), ("links", "list"),
            ("api-keys", "list"), ("scope-sets", "list"), ("workers",)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("cli-pipes")
    env = cli_env(**TEST_CLIENT, DASHBOARD_ENCRYPTION_KEYS=generate_key_entry("k1"),
                  DASHBOARD_DATABASE_URL=f"sqlite:///{work / 'dashboard.db'}", DASHBOARD_DATA_DIR=str(work / "data"))
    for name in ("one", "two", "three"):  # rows to list, and audit events
        done = run_cli("api-keys", "create", "--name", name, env=env, cwd=work)
        assert done.returncode == 0, done.stderr
    return env


@pytest.mark.parametrize("args", LISTINGS, ids=" ".join)
def test_listing_into_a_closed_pipe_ends_quietly(args: tuple[str, ...], env: dict[str, str], tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away, like head after its first line
    try:
        done = subprocess.run(cli_command(*args), env=env, cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=60, check=False)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode in (0, 1, 141), done.stderr  # 141 = 128 + SIGPIPE when it had something to write


def test_audit_piped_into_head_prints_one_line(env: dict[str, str], tmp_path: Path) -> None:
    command = " ".join(cli_command("audit")) + " | head -1"  # the shell's pipe, as a user types it
    done = subprocess.run(command, shell=True, env=env, cwd=tmp_path,  # noqa: S602
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
