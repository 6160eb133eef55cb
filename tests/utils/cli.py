"""Running ``python -m dashboard`` as a real subprocess, with an environment the test controls."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dashboard.security.crypto import generate_key_entry

REPO = Path(__file__).resolve().parents[2]

# Non-placeholder credentials: the CLI runs outside sandbox mode, so it neither starts nor finds a sandbox.
TEST_CLIENT = {"HUBSPOT_CLIENT_ID": "cli-test-client", "HUBSPOT_CLIENT_SECRET": "cli-test-secret-0e4b7a"}


_pycache: list[str] = []


def _pycache_dir() -> str:
    """One bytecode cache for this test run, outside the repo and the venv.

    The venv is installed with ``--no-compile`` and PYTHONDONTWRITEBYTECODE is set, so without it every
    subprocess compiles SQLAlchemy, SQLModel and pydantic from source (~2 s instead of ~0.7 s).
    """
    if not _pycache:
        _pycache.append(tempfile.mkdtemp(prefix="dashboard-cli-pycache-"))
        atexit.register(shutil.rmtree, _pycache[0], ignore_errors=True)
    return _pycache[0]


def cli_env(**settings: str) -> dict[str, str]:
    """The current environment (the autouse fixture has removed HUBSPOT_*/DASHBOARD_*) plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DASHBOARD_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = _pycache_dir()
    env.update(settings)
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dashboard", *args]


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 180, **kwargs: Any,
            ) -> subprocess.CompletedProcess[str]:
    """Run the CLI in ``cwd`` (a temp dir: no stray ``data/`` or ``.streamlit/secrets.toml``). The timeout bounds
    a hang, not a speed: under the parallel suite on 2 loaded cores one ``api-keys create`` took over 60 s."""
    return subprocess.run(cli_command(*args), env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, **kwargs)


class SandboxCli:
    """``python -m dashboard --actor ops@example.com ...`` in ``cwd`` (a fresh SQLite file and data directory
    there), against the sandbox at ``sandbox_url``: the CLI tests' ``cli`` fixture.

    Calling it runs one command with ``stdin`` as its standard input (empty by default) and ``env`` as extra
    settings, and asserts the exit code is ``expect`` and nothing printed a traceback. ``outputs`` collects
    what every command printed, for the tests' leak checks.
    """

    def __init__(self, cwd: Path, sandbox_url: str) -> None:
        self.cwd = cwd
        self.env = cli_env(DASHBOARD_DATABASE_URL=f"sqlite:///{cwd / 'cli.db'}",
                           DASHBOARD_ENCRYPTION_KEYS=generate_key_entry("cli"),
                           DASHBOARD_SANDBOX_URL=sandbox_url, DASHBOARD_DATA_DIR=str(cwd / "data"))
        self.outputs: list[str] = []

    def __call__(self, *args: str, expect: int = 0, stdin: str | None = None, **env: str,
                 ) -> subprocess.CompletedProcess[str]:
        proc = run_cli("--actor", "ops@example.com", *args, env={**self.env, **env}, cwd=self.cwd,
                       input=stdin if stdin is not None else "")
        assert proc.returncode == expect, (proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        self.outputs.extend([proc.stdout, proc.stderr])
        return proc
