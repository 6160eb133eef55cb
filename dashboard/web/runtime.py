"""The server process's one :class:`AppContext`, shared by the lifespan's work, the HTTP routes and the pages.

The lifespan builds it when the server starts; pages reuse it (``dashboard.ui.context``) instead of
building a second engine, sandbox probe and HTTP pool. Outside a server (AppTest, the CLI) nothing is set
and callers build their own.
"""

from __future__ import annotations

import threading

from dashboard.context import AppContext

_lock = threading.Lock()
_shared: AppContext | None = None


def set_shared_context(ctx: AppContext | None) -> None:
    global _shared  # one context per process is the point of this module
    with _lock:
        _shared = ctx


def shared_context() -> AppContext | None:
    """The context the server's lifespan built, or None (no server, or it could not be built)."""
    with _lock:
        return _shared
