"""``python -m dashboard refresh ...``: one portal (``--hub-id``) or every due portal (``--due``, once or ``--loop``).

``--due`` runs the same :class:`~dashboard.refresh.worker.RefreshWorker` the dashboard embeds, printing one JSON
line per pass; SIGTERM stops it between refreshes, never in the middle of one.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from dashboard.actors import Actor
from dashboard.cli.groups import hub_id_arg
from dashboard.context import AppContext
from dashboard.errors import UsageError
from dashboard.refresh import service as refresh

log = logging.getLogger(__name__)


@contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (systemd stop, docker stop, a deploy) sets ``stop``: refreshes in flight finish and store their
    tokens, none starts. Dying mid-request instead would lose every refresh token HubSpot rotated meanwhile."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _refresh(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    if args.due:
        from dashboard.refresh.worker import PassResult, RefreshWorker

        def report(result: PassResult) -> None:
            counts: dict[str, int] = {}
            per_app: dict[str, dict[str, int]] = {}
            for o in result.outcomes:
                counts[o.result] = counts.get(o.result, 0) + 1
                app = per_app.setdefault(o.app, {})
                app[o.result] = app.get(o.result, 0) + 1
            apps = {"apps": per_app} if len(loop.contexts()) > 1 else {}  # several apps: each one's counts
            print(json.dumps({"due": len(result.outcomes), **counts, **apps,
                              **({"error": result.error} if result.error else {})}), flush=True)

        within = timedelta(seconds=args.within) if args.within is not None else None
        stop = threading.Event()
        # Every configured app, or the one --app names; audited as worker:cli:<host>:<pid>:<id>.
        loop = RefreshWorker(ctx, kind="cli", interval=args.interval, concurrency=args.concurrency,
                             within=within, on_pass=report, apps=[ctx.app_id] if args.app else None)
        with _stop_on_sigterm(stop):
            last = loop.run(stop, once=not args.loop)  # --loop survives database errors with backoff
        held = loop.held()
        if held:  # stopped while tokens were held only in memory: they are lost with the process
            log.critical("stopping with %s refreshed token(s) that nothing stored (%s); those portals must "
                         "be re-authorized if their refresh tokens rotate", held,
                         ", ".join(f"app {c.app_id} hub {h}" for c in loop.contexts() for h, _ in c.unsaved.leases()))
        return 1 if last.error or last.failures or held else 0
    if args.hub_id is None:
        raise UsageError("refresh: give --hub-id N or --due")
    out = refresh.refresh_portal(ctx, args.hub_id, actor=actor, force=args.force)
    print(f"{out.hub_id}: {out.result}" + (f" ({out.message})" if out.result != "refreshed" else ""))
    return 0 if out.result in ("refreshed", "fresh") else 1


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    rp = sub.add_parser("refresh", help="refresh one portal or every due portal")
    rp.add_argument("--hub-id", type=hub_id_arg)
    rp.add_argument("--force", action="store_true")
    rp.add_argument("--due", action="store_true")
    rp.add_argument("--within", type=int, help="seconds (default: DASHBOARD_REFRESH_LEEWAY_SECONDS)")
    rp.add_argument("--concurrency", type=int, default=8)
    rp.add_argument("--loop", action="store_true")
    rp.add_argument("--interval", type=float, default=60.0)
    rp.set_defaults(handler=_refresh)
