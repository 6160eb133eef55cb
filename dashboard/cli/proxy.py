"""``python -m dashboard api --hub-id N METHOD PATH``: one HubSpot API call through the proxy, its JSON printed.

Same service as the HTTP proxy and the portal page's console (dashboard/proxy/console.py): the portal's rate
window, a fresh token, one refresh-and-retry on an expired token, usage counted. HubSpot's body goes to
stdout (pretty JSON when it is JSON); the status goes to stderr; the exit code is 0 for 2xx, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.proxy import console


def _api(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    body = args.data.encode() if args.data else b""
    service = console.service_for(ctx)
    try:
        answer = console.call(service, actor=actor, hub_id=args.hub_id, method=args.method, target=args.path,
                              body=body, via="cli")
    finally:
        service.close()
    print(f"HTTP {answer.status}", file=sys.stderr)
    try:
        print(json.dumps(json.loads(answer.body), indent=2, ensure_ascii=False))
    except ValueError:
        sys.stdout.write(answer.body.decode("utf-8", "replace"))
    return 0 if answer.status < 400 else 1


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    ap = sub.add_parser("api", help="call HubSpot's API for a portal through the proxy (prints HubSpot's JSON)")
    ap.add_argument("--hub-id", type=int, required=True)
    ap.add_argument("--data", help="a JSON request body (POST, PUT, PATCH)")
    ap.add_argument("method", help="GET, HEAD, POST, PUT, PATCH or DELETE")
    ap.add_argument("path", help="a HubSpot API path with its query, e.g. /crm/v3/objects/contacts?limit=1")
    ap.set_defaults(handler=_api)
