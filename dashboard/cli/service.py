"""``python -m dashboard workers`` and ``api-keys ...``: the service side of the CLI (refresh workers, API keys).

Kept beside ``cli.py`` (which registers these parsers) so neither module passes ~300 lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from dashboard.actors import Actor
from dashboard.admin import api_keys
from dashboard.cli.groups import command_group, hub_id_arg, number_arg
from dashboard.cli.output import cells
from dashboard.context import AppContext
from dashboard.models import utcnow
from dashboard.refresh import worker


def _workers(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    status = worker.sweep_status(ctx, actor=actor)
    now = utcnow()
    for w in status.workers:
        ago = w.seconds_since_sweep(now)
        state = "stopped" if w.stopped_at is not None else "on time" if w.on_time(now) else "LATE"
        print(cells(w.worker_id, w.kind, f"pid {w.pid}", f"every {w.interval_seconds:g} s",
                    f"last sweep {'never' if ago is None else f'{round(ago)} s ago'}", state,
                    f"refreshed {w.total_refreshed}", f"failures {w.total_failures}",
                    *([f"error: {w.last_error}"] if w.last_error else [])))
    print(status.message)
    return 0 if status.healthy else 1


def _apps(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    from dashboard.apps.overview import apps_overview

    for app in apps_overview(ctx, actor=actor):
        if app.configured:
            print(cells(app.id, app.label, "production" if app.production else "-", "default" if app.default else "-",
                        f"client {app.client_id_hint}", app.api_base_url, f"{app.connections} connection(s)"))
        else:
            print(cells(app.id, "NOT CONFIGURED", f"{app.connections} connection(s)"))
            print(f"warning: {app.advice}", file=sys.stderr)
    return 0


def _keys_create(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    hubs = [h for group in args.hub_id or [] for h in group]
    created = api_keys.create_key(ctx, actor=actor, name=args.name, role=args.role, hub_ids=hubs,
                                  expires_in=timedelta(days=args.expires_days) if args.expires_days else None,
                                  read_only=args.read_only, app=args.key_app)
    info = created.info
    print(f"created API key {info.prefix} ({info.name}, {info.role}{', read-only' if info.read_only else ''}, "
          f"{'app ' + info.app + ', ' if info.app else ''}{_portals(info)}"
          f"{', expires ' + info.expires_at.isoformat(timespec='seconds') if info.expires_at else ''}). "
          "It is shown only now; store it in your secret manager:", file=sys.stderr)
    print(created.key)  # the last line of stdout, alone: scripts read it
    return 0


def _portals(key: api_keys.ApiKeyInfo) -> str:
    names = sorted(f"{app}:{hub}" for app, hub in key.portals)
    return "portals " + " ".join(names) if names else "every portal"


def _keys_list(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    keys = api_keys.list_keys(ctx, actor=actor)
    now = utcnow()

    def when(value: Any) -> str:
        return value.isoformat(timespec="seconds") if value is not None else "-"

    if args.json:
        print(json.dumps([{"prefix": k.prefix, "name": k.name, "role": k.role, "hub_ids": list(k.hub_ids), "app": k.app,
                           "portals": sorted(f"{app}:{hub}" for app, hub in k.portals),
                           "created_by": k.created_by, "created_at": when(k.created_at),
                           "last_used_at": when(k.last_used_at), "expires_at": when(k.expires_at),
                           "state": k.state(now), "read_only": k.read_only} for k in keys], indent=2))
        return 0
    for k in keys:
        print(cells(k.prefix, k.name, k.role, k.state(now), f"created by {k.created_by}",
                    f"last used {when(k.last_used_at)}", f"expires {when(k.expires_at)}",
                    *([f"app {k.app}"] if k.app else []), _portals(k)))
    print(f"{len(keys)} API key(s)", file=sys.stderr)
    return 0


def _keys_revoke(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    api_keys.revoke_key(ctx, actor=actor, prefix=args.prefix)
    print(f"{args.prefix}: revoked")
    return 0


POSITIVE_DAYS = number_arg(float, lambda days: 0 < days <= 36_500, "a number of days above 0")


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``workers`` and ``api-keys`` on the CLI's subcommand table."""
    wp = sub.add_parser("workers", help="refresh workers and their last sweep (exit 1 when none swept on time)")
    wp.set_defaults(handler=_workers)

    sub.add_parser("apps", help="the configured HubSpot apps, and apps whose connections remain without "
                   "configuration").set_defaults(handler=_apps)

    kp = command_group(sub, "api-keys", help="token API keys", parser_class=parser_class)
    create = kp.add_parser("create", help="create a key (printed once, on the last line)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=api_keys.KEY_ROLES, default=api_keys.READER,
                        help="reader gets tokens; operator may also force a refresh")
    create.add_argument("--hub-id", type=hub_id_arg, action="append", nargs="+", metavar="N",
                        help="restrict the key to these portals (repeatable)")
    create.add_argument("--expires-days", type=POSITIVE_DAYS, help="the key stops working after this many days")
    create.add_argument("--app", dest="key_app", metavar="NAME",
                        help="restrict the key to this app's portals (403 on another app's)")
    create.add_argument("--read-only", action="store_true",
                        help="only GET and HEAD through the HubSpot proxy (403 for other methods)")
    create.set_defaults(handler=_keys_create)
    ls = kp.add_parser("list", help="name, prefix, role, created by, last used, expiry")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_keys_list)
    rv = kp.add_parser("revoke", help="revoke a key by its prefix")
    rv.add_argument("prefix")
    rv.set_defaults(handler=_keys_revoke)
