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


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60, **kwargs: Any,
            ) -> subprocess.CompletedProcess[str]:
    """Run the CLI in ``cwd`` (a temp dir: no stray ``data/`` or ``.streamlit/secrets.toml``)."""
    return subprocess.run(cli_command(*args), env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, **kwargs)
