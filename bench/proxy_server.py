"""The proxy's FastAPI app alone under uvicorn, for bench/proxy.py: settings from the environment.

    .venv/bin/python bench/proxy_server.py PORT
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn

from dashboard.context import build_context
from dashboard.settings import load_settings
from dashboard.web import proxy_routes
from dashboard.web.runtime import set_shared_context

if __name__ == "__main__":
    ctx = build_context(load_settings())
    set_shared_context(ctx)
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without it each
    # keep-alive response waits ~40 ms for a delayed ACK (dashboard/web/tcp.py, sandbox/server.py).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    server = uvicorn.Server(uvicorn.Config(proxy_routes.build_app(), log_level="warning", access_log=False,
                                           http="h11", ws="none", lifespan="off", backlog=2048))
    asyncio.run(server.serve(sockets=[sock]))
