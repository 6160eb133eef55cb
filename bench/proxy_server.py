"""The proxy's FastAPI app alone under uvicorn, for bench/proxy.py: settings from the environment.

    .venv/bin/python bench/proxy_server.py PORT [PROFILE_FILE]

With ``PROFILE_FILE``, SIGUSR1 starts a profiler and SIGUSR2 writes its report there: bench/sampler.py's
sampler (every thread, wall-clock), or cProfile of the event loop's thread when the file ends in ``.pstats``
(read it with ``python -m pstats FILE``).
"""

from __future__ import annotations

import asyncio
import cProfile
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn

from bench.sampler import Sampler
from dashboard.context import build_context
from dashboard.settings import load_settings
from dashboard.web import proxy_routes
from dashboard.web.runtime import set_shared_context


def profile_on_signals(path: str) -> None:
    sampler: list[Sampler] = []
    profile = cProfile.Profile(time.process_time)  # CPU time: a loaded machine inflates wall time
    # (signal handlers run in the main thread: the event loop's)

    def start(*_: Any) -> None:
        if path.endswith(".pstats"):
            profile.enable()
            return
        sampler.append(Sampler())
        sampler[-1].start()

    def stop(*_: Any) -> None:
        if path.endswith(".pstats"):
            profile.disable()
            profile.dump_stats(path)  # cumulative over every round
        elif sampler:
            sampler[-1].stop()
            Path(path).write_text(sampler[-1].report(40))

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


if __name__ == "__main__":
    ctx = build_context(load_settings())
    set_shared_context(ctx)
    if len(sys.argv) > 2:
        profile_on_signals(sys.argv[2])
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without it each
    # keep-alive response waits ~40 ms for a delayed ACK (dashboard/web/tcp.py, sandbox/server.py).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    server = uvicorn.Server(uvicorn.Config(proxy_routes.build_app(), log_level="warning", access_log=False,
                                           http="h11", ws="none", lifespan="off", backlog=2048,
                                           timeout_keep_alive=60))  # the bench's callers idle between rounds
    asyncio.run(server.serve(sockets=[sock]))
