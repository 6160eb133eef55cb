"""``python -m dashboard links ...``: sendable install / re-consent links, as the New install page makes them.

``links create`` prints the URL once (only its hash is stored); ``links reconsent HUB`` pins one to a
connected account; ``links list`` and ``links revoke ID`` manage them.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

from dashboard.actors import Actor
from dashboard.cli.groups import command_group, hub_id_arg
from dashboard.cli.output import cells
from dashboard.context import AppContext
from dashboard.errors import InputError
from dashboard.hubspot.authorize import parse_account_id
from dashboard.installs import links as install_links


def account_id_arg(text: str) -> int:
    """``--account-id``: the Install page's rule (a positive whole number), as an argparse error."""
    try:
        value = parse_account_id(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.description) from None
    if value is None:
        raise argparse.ArgumentTypeError("the account id must not be blank")
    return value


def _items(values: list[list[str]] | None) -> list[str]:
    return [s for group in values or [] for item in group for s in item.split()]


def _create(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    ttl = timedelta(days=args.days) if args.days else None
    link = install_links.create_link(ctx, actor=actor, scopes=_items(args.scope),
                                     optional_scopes=_items(args.optional_scope), account_id=args.account_id, ttl=ttl)
    print(f"link {link.link_id}: works once, until {link.expires_at:%Y-%m-%d %H:%M} UTC; send this URL:")
    print(link.url)
    return 0


def _reconsent(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    link = install_links.create_reconsent_link(ctx, actor=actor, hub_id=args.hub_id)
    print(f"link {link.link_id}: re-consent for hub {args.hub_id}, until {link.expires_at:%Y-%m-%d %H:%M} UTC:")
    print(link.url)
    return 0


def _list(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    links = install_links.list_links(ctx, actor=actor)
    if args.json:
        print(json.dumps([vars(link) for link in links], indent=2, default=str))
        return 0
    for link in links:
        print(cells(link.link_id, link.status, link.purpose, f"account {link.account_id or 'any'}",
                    f"by {link.created_by}", f"expires {link.expires_at:%Y-%m-%d %H:%M}", link.scopes))
    return 0


def _revoke(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    install_links.revoke_link(ctx, actor=actor, link_id=args.link_id)
    print(f"link {args.link_id} revoked")
    return 0


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    lp = command_group(sub, "links", help="sendable install and re-consent links", parser_class=parser_class)
    create = lp.add_parser("create", help="a link for a customer's HubSpot admin (URL on the last line)")
    create.add_argument("--scope", action="append", nargs="+", required=True, metavar="S")
    create.add_argument("--optional-scope", action="append", nargs="+", metavar="S")
    create.add_argument("--account-id", type=account_id_arg, help="pin the link to one HubSpot account")
    create.add_argument("--days", type=float, help="lifetime (default DASHBOARD_LINK_TTL_DAYS, 7)")
    create.set_defaults(handler=_create)
    rec = lp.add_parser("reconsent", help="a re-consent link pinned to a connected account")
    rec.add_argument("hub_id", type=hub_id_arg)
    rec.set_defaults(handler=_reconsent)
    ls = lp.add_parser("list", help="every link with its status (open, used, revoked, expired)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)
    rv = lp.add_parser("revoke", help="withdraw an open link")
    rv.add_argument("link_id", type=int)
    rv.set_defaults(handler=_revoke)
