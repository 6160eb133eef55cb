"""``python -m dashboard workers`` and ``api-keys ...``: the service side of the CLI (refresh workers, API keys).

Kept beside ``cli.py`` (which registers these parsers) so neither module passes ~300 lines.
"""

from __future__ import annotations

import argparse
from typing import Any

from dashboard import worker
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.models import utcnow


def _workers(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    status = worker.sweep_status(ctx, actor=actor)
    now = utcnow()
    for w in status.workers:
        ago = w.seconds_since_sweep(now)
        state = "stopped" if w.stopped_at is not None else "on time" if w.on_time(now) else "LATE"
        print(f"{w.worker_id}\t{w.kind}\tpid {w.pid}\tevery {w.interval_seconds:g} s\t"
              f"last sweep {'never' if ago is None else f'{round(ago)} s ago'}\t{state}\t"
              f"refreshed {w.total_refreshed}\tfailures {w.total_failures}"
              + (f"\terror: {w.last_error}" if w.last_error else ""))
    print(status.message)
    return 0 if status.healthy else 1


def add_parsers(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``workers`` and ``api-keys`` on the CLI's subcommand table."""
    wp = sub.add_parser("workers", help="refresh workers and their last sweep (exit 1 when none swept on time)")
    wp.set_defaults(handler=_workers)
