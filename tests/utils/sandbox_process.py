"""``python -m dashboard sandbox`` in a subprocess of its own, for tests that need a sandbox apart from the
session's (their own token lifetime, their own registered redirect URI)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.e2e.conftest import Server, base_env, start_server


def start_sandbox(port: int, redirect_uri: str, log: Path) -> tuple[Server, str]:
    """The sandbox on ``port`` registering ``redirect_uri``, once it answers; its server and base URL.

    Its output goes to ``log``; the caller stops the server.
    """
    server = start_server(
        [sys.executable, "-m", "dashboard", "sandbox", "--port", str(port), "--redirect-uri", redirect_uri],
        url=f"http://127.0.0.1:{port}/_sandbox/stats", probe=lambda r: r.status_code == 200, env=base_env(),
        log=log)
    return server, f"http://127.0.0.1:{port}"
