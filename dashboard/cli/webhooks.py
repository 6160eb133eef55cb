"""``python -m dashboard webhooks ...``: lifecycle webhook endpoints and their deliveries, as the Settings page.

``add`` and ``rotate-secret`` print the ``whsec_`` secret once (it is stored encrypted, never shown again);
``deliver`` runs one delivery pass (what the workers do every second) and prints its counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from dashboard.actors import Actor
from dashboard.cli.groups import command_group
from dashboard.cli.output import cells
from dashboard.context import AppContext
from dashboard.webhooks import endpoints, events
from dashboard.webhooks.delivery import deliver_due


def _add(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    types = [t for group in args.event or [] for t in group]
    created = endpoints.add_endpoint(ctx, actor=actor, url=args.url, event_types=types,
                                     description=args.description or "")
    print(f"endpoint {created.endpoint.id}: {created.endpoint.shown_url} "
          f"({' '.join(created.endpoint.event_types) or 'every event type'})")
    print("signing secret (shown once; verify with any Standard Webhooks library):", file=sys.stderr)
    print(created.secret)
    return 0


def _list(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    rows = endpoints.list_endpoints(ctx, actor=actor)
    if args.json:
        print(json.dumps([{"id": e.id, "url": e.shown_url, "description": e.description,
                           "event_types": list(e.event_types), "created_by": e.created_by,
                           "created_at": e.created_at, "rotating_until": e.rotating_until} for e in rows],
                         indent=2, default=str))
        return 0
    for e in rows:
        rotating = f"\tprevious secret valid until {e.rotating_until:%Y-%m-%d %H:%M}" if e.rotating_until else ""
        print(cells(e.id, e.shown_url, " ".join(e.event_types) or "all events", e.description) + rotating)
    print(f"{len(rows)} endpoint(s)", file=sys.stderr)
    return 0


def _remove(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    endpoints.remove_endpoint(ctx, actor=actor, endpoint_id=args.endpoint_id)
    print(f"endpoint {args.endpoint_id} removed")
    return 0


def _rotate(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    created = endpoints.rotate_secret(ctx, actor=actor, endpoint_id=args.endpoint_id)
    print(f"endpoint {args.endpoint_id}: new secret (shown once); the previous one also signs until "
          f"{created.endpoint.rotating_until:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    print(created.secret)
    return 0


def _deliveries(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    rows = endpoints.list_deliveries(ctx, actor=actor, endpoint_id=args.endpoint, status=args.status,
                                     limit=args.limit)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2, default=str))
        return 0
    for r in rows:
        nxt = f"next {r.next_attempt_at:%H:%M:%S}" if r.next_attempt_at and r.status == "pending" else ""
        print(cells(r.id, r.event_type, f"hub {r.hub_id or '-'}", r.status, f"{r.attempts} attempt(s)",
                    f"HTTP {r.last_status_code or '-'}", r.last_error or "", nxt))
    print(f"{len(rows)} deliver(ies)", file=sys.stderr)
    return 0


def _redeliver(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    endpoints.redeliver(ctx, actor=actor, delivery_id=args.delivery_id)
    print(f"delivery {args.delivery_id} queued again")
    return 0


def _test(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    endpoints.send_test(ctx, actor=actor, endpoint_id=args.endpoint_id)
    deliver_due(ctx)  # at once, for the answer; a running worker may have sent it already
    rows = endpoints.list_deliveries(ctx, actor=actor, endpoint_id=args.endpoint_id, limit=1)
    last = rows[0] if rows else None
    if last is None or last.event_type != events.TEST:
        print("webhook.test queued", file=sys.stderr)
        return 0
    print(f"delivery {last.id}: {last.status}, HTTP {last.last_status_code or '-'} {last.last_error or ''}".rstrip())
    return 0 if last.status == "succeeded" else 1


def _deliver(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    result = deliver_due(ctx)
    print(json.dumps(asdict(result)))
    return 0


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    wp = command_group(sub, "webhooks", help="lifecycle webhooks (Standard Webhooks): endpoints and deliveries",
                       parser_class=parser_class)
    add = wp.add_parser("add", help="a new endpoint; prints its id and its whsec_ secret (once)")
    add.add_argument("--url", required=True, help="https:// URL of the receiver")
    add.add_argument("--event", action="append", nargs="+", choices=events.EVENT_TYPES, metavar="TYPE",
                     help="event type(s) to send (default: every type); repeatable")
    add.add_argument("--description")
    add.set_defaults(handler=_add)
    ls = wp.add_parser("list", help="every endpoint (never its secret)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)
    rm = wp.add_parser("remove", help="remove an endpoint (its pending deliveries end as failed)")
    rm.add_argument("endpoint_id", type=int)
    rm.set_defaults(handler=_remove)
    rot = wp.add_parser("rotate-secret", help="a new secret; the old one keeps signing for 24 h")
    rot.add_argument("endpoint_id", type=int)
    rot.set_defaults(handler=_rotate)
    dl = wp.add_parser("deliveries", help="the newest deliveries: status, attempts, last answer")
    dl.add_argument("--endpoint", type=int)
    dl.add_argument("--status", choices=endpoints.DELIVERY_STATUSES)
    dl.add_argument("--limit", type=int, default=100)
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(handler=_deliveries)
    rd = wp.add_parser("redeliver", help="send a delivery again")
    rd.add_argument("delivery_id", type=int)
    rd.set_defaults(handler=_redeliver)
    ts = wp.add_parser("test", help="send a webhook.test event to one endpoint now")
    ts.add_argument("endpoint_id", type=int)
    ts.set_defaults(handler=_test)
    wp.add_parser("deliver", help="one delivery pass (the workers run one every second)").set_defaults(
        handler=_deliver)
