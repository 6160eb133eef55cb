"""CLI worker processes in milliseconds: forked from a parent that has already imported the dashboard.

A fresh interpreter spends ~0.7 s of CPU importing SQLAlchemy, pydantic and httpx; the crash-safety trials
start (and SIGKILL) dozens of workers. The parent, ``python -m tests.utils.worker_zygote``, imports
``dashboard.cli.main`` once and starts no thread, so forking it is safe. It reads one JSON request per line:

* ``{"spawn": [argv...], "env": {...}, "cwd": "...", "log": "..."}`` forks a child that runs
  ``python -m dashboard <argv>`` (``dashboard.cli.main.main``) with exactly that environment, in ``cwd``, stdout and
  stderr to ``log``; answers ``{"pid": ...}``;
* ``{"wait": pid}`` reaps the child; answers ``{"returncode": ...}`` (``-9`` after SIGKILL, like Popen).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.utils.cli import REPO, cli_env


def _warm_up() -> None:
    """Import what a worker imports lazily (Alembic, the SQLite dialect, ...), so children need not."""
    import tempfile

    from dashboard.context import build_context
    from dashboard.security.crypto import generate_key_entry
    from dashboard.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="zygote-") as tmp:
        settings = load_settings({}, secrets_path=None, dashboard_database_url=f"sqlite:///{tmp}/warm.db",
                                 dashboard_data_dir=tmp, dashboard_encryption_keys=generate_key_entry("warm"))
        build_context(settings, sandbox_url="http://127.0.0.1:9").close()  # no sandbox is contacted


def _serve() -> None:  # pragma: no cover - runs in the zygote process
    from dashboard.cli import main as cli

    _warm_up()
    for line in sys.stdin:
        request = json.loads(line)
        if "spawn" in request:
            pid = os.fork()
            if pid == 0:
                code = 70
                try:
                    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.environ.clear()
                    os.environ.update(request["env"])
                    os.chdir(request["cwd"])
                    code = cli.main(request["spawn"])
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            answer: dict[str, Any] = {"pid": pid}
        else:
            _, status = os.waitpid(request["wait"], 0)
            answer = {"returncode": os.waitstatus_to_exitcode(status)}
        print(json.dumps(answer), flush=True)


class Zygote:
    """The test's handle on a zygote process: ``spawn`` workers, ``kill`` and ``wait`` for them."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", "tests.utils.worker_zygote"], cwd=REPO, env=cli_env(),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        return dict(json.loads(self._proc.stdout.readline()))

    def spawn(self, argv: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> int:
        return int(self._ask({"spawn": argv, "env": env, "cwd": str(cwd), "log": str(log)})["pid"])

    def wait(self, pid: int) -> int:
        return int(self._ask({"wait": pid})["returncode"])

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


if __name__ == "__main__":
    _serve()
