"""``python -m dashboard timeline`` and ``health``: a portal's timeline and the app's health, as the pages show them.

Bad input (a hub id that is not one, a ``--since`` that is not a time) prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import InputError
from dashboard.lifecycle import breaker, timeline


def _hub_id(text: str) -> int:
    try:
        return timeline.parse_hub_id(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.description) from None


def _limit(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text[:4]) <= timeline.MAX_LIMIT or len(text) > 3:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {timeline.MAX_LIMIT}, not {text[:20]!r}")
    return int(text)


def _safe(text: str | None) -> str:
    """Foreign text on a terminal: control characters are escaped already (hubspot/answers.py); tabs and
    newlines too, so one event stays one line."""
    return (text or "-").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _timeline(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    try:
        since = timeline.parse_since(args.since) if args.since else None
    except InputError as exc:
        print(exc.description, file=sys.stderr)
        return 2
    entries = timeline.portal_timeline(ctx, args.hub_id, actor=actor, since=since, limit=args.limit,
                                       kinds=tuple(args.kind or ()), outcomes=tuple(args.outcome or ()))
    if args.json:
        print(json.dumps([e.as_json() for e in entries], indent=2))
        return 0
    for e in entries:
        hubspot = " ".join(p for p in (f"HTTP {e.http_status}" if e.http_status else "", e.hubspot_status or "",
                                       f"correlationId {e.correlation_id}" if e.correlation_id else "") if p)
        took = f"{e.duration_ms} ms" if e.duration_ms is not None else "-"
        print(f"{e.at.isoformat(timespec='seconds')}\t{e.kind}\t{e.outcome}\t{took}\t{_safe(hubspot)}\t"
              f"{_safe(e.actor)}\t{_safe(e.detail)}")
    print(f"{len(entries)} event(s)" + ("; older: --limit more, or --since" if len(entries) == args.limit else ""),
          file=sys.stderr)
    return 0


def _health(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    data: dict[str, Any] = breaker.report(ctx)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        hubspot = data["hubspot"]
        print("HubSpot: " + (f"DEGRADED since {hubspot['since']}: {hubspot['reason']}" if hubspot["degraded"]
                             else "answering normally"))
        config = data["configuration"]
        print("App configuration: " + (f"PROBLEM since {config['since']}: {config['reason']}" if config["problem"]
                                       else "accepted by HubSpot"))
        for key in data["keys"]:
            print(f"Encryption key {key['key_id']!r}: {key['reason']}")
    problem = data["hubspot"]["degraded"] or data["configuration"]["problem"] or data["keys"]
    return 1 if problem else 0


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    tl = sub.add_parser("timeline", help="a portal's timeline, newest first")
    tl.add_argument("--hub-id", type=_hub_id, required=True)
    tl.add_argument("--json", action="store_true", help="a JSON list of events")
    tl.add_argument("--since", help="ISO time (UTC unless given) or a span back from now: 90m, 24h, 7d")
    tl.add_argument("--limit", type=_limit, default=50, help=f"events (1-{timeline.MAX_LIMIT}; default 50)")
    tl.add_argument("--kind", action="append", help="only this kind (refresh, transition, alert, ...); repeatable")
    tl.add_argument("--outcome", action="append", help="only this outcome (success, failure, ...); repeatable")
    tl.set_defaults(handler=_timeline, offline=True)
    hp = sub.add_parser("health", help="HubSpot degraded?, the app's configuration, key problems")
    hp.add_argument("--json", action="store_true")
    hp.set_defaults(handler=_health, offline=True)
