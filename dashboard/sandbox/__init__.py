"""A local HTTP server that behaves like HubSpot's OAuth API, for tests, demos and benchmarks.

It plays HubSpot, so it imports nothing else from ``dashboard``. Behaviour, defaults and every control are
described in docs/sandbox.md.

Start one with ``SandboxServer(SandboxConfig()).start()`` (a context manager too); its ``url``, e.g.
``http://127.0.0.1:54321``, is both the API host and the authorize-page host.
"""

from __future__ import annotations

from .config import (
    DEFAULT_REDIRECT_URI,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SandboxAccount,
    SandboxConfig,
    default_accounts,
)
from .server import SandboxServer

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SandboxAccount",
    "SandboxConfig",
    "SandboxServer",
    "default_accounts",
]
