"""``python -m dashboard ...``: everything a page does, through the same services.

Exit codes: 0 success; 1 a failed operation (one line on stderr); 2 bad usage or configuration.
Nothing asks for confirmation on stdin, so every command runs in scripts and cron.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from dashboard import status
from dashboard.actors import Actor, cli_actor
from dashboard.admin import keys
from dashboard.cli import health as cli_health
from dashboard.cli import links as cli_links
from dashboard.cli import pages as cli_pages
from dashboard.cli import proxy as cli_proxy
from dashboard.cli import refresh as cli_refresh
from dashboard.cli import service as cli_service
from dashboard.cli import webhooks as cli_webhooks
from dashboard.cli.groups import command_group, hub_id_arg
from dashboard.cli.output import cells, escaped_output
from dashboard.connections import listing, uninstall
from dashboard.connections import service as conns
from dashboard.context import AppContext, build_context
from dashboard.errors import ConfigurationError, DashboardError, InputError, UsageError
from dashboard.installs import flow as install
from dashboard.installs import pending as pending_installs
from dashboard.scopes.catalog import ScopeSet
from dashboard.security.crypto import generate_key_entry
from dashboard.security.logredact import install_redaction
from dashboard.security.terminal_text import escape_controls
from dashboard.settings import load_settings

Handler = Callable[[argparse.Namespace, AppContext, Actor], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _flatten(values: list[list[str]] | None) -> list[str]:
    return [s for group in values or [] for item in group for s in item.split()]


def _scope_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument("--scope", action="append", nargs="+", required=required, metavar="S",
                   help="required scope(s); repeatable")
    p.add_argument("--optional-scope", action="append", nargs="+", metavar="S", help="optional scope(s)")
    p.add_argument("--account-id", type=cli_links.account_id_arg, help="pin the install to one HubSpot account")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


# --- handlers ------------------------------------------------------------------------------------------

def _db_upgrade(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    print("database is up to date")
    return 0


def _keys_status(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    st = keys.key_status(ctx.engine, ctx.cipher, actor=actor)
    print(f"primary key: {st.primary_key_id}")
    for key in st.table():
        mark = "  (NOT CONFIGURED: rows unreadable)" if key.role == keys.NOT_CONFIGURED else ""
        print(f"{key.key_id}: {key.rows} rows{mark}")
    print(f"rows on the old binding (hub id only): {st.old_binding}")
    print(f"rows to rotate: {st.rows_to_rotate}")
    unreadable = keys.unreadable_rows(ctx.engine, ctx.cipher, actor=actor)
    for row in unreadable:
        print(f"unreadable: {escape_controls(row.describe())}", file=sys.stderr)
    if unreadable:
        print(f"unreadable rows: {len(unreadable)}")
    return 1 if st.unknown_key_ids or unreadable else 0


def _keys_rotate(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    res = keys.rotate_keys(ctx.engine, ctx.cipher, actor=actor, batch_size=args.batch_size,
                           on_batch=lambda n: print(f"rotated {n} rows", file=sys.stderr))
    for row in res.unreadable:
        print(f"could not read {escape_controls(row.describe())}; left as it is", file=sys.stderr)
    print(f"rotated {res.rotated} rows to key {ctx.cipher.primary_key_id}; remaining {res.remaining}"
          + (f"; could not read {len(res.unreadable)}" if res.unreadable else ""))
    return 0 if res.remaining == 0 and not res.unreadable else 1


def _install_start(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    start = install.start_install(ctx, actor=actor, scopes=_flatten(args.scope),
                                  optional_scopes=_flatten(args.optional_scope), account_id=args.account_id)
    print(f"open this URL within {start.expires_in_seconds // 60} minutes, grant access, then run "
          "`python -m dashboard install finish -` and paste the URL you were redirected to "
          "(read from standard input, so the code and state stay out of the process list):")
    print(start.url)
    return 0


def _install_finish(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    # "-": the URL comes from standard input, so its code and state never appear in `ps` output.
    url = sys.stdin.readline() if args.callback_url == "-" else args.callback_url
    result = install.finish_install(ctx, actor=actor, params=install.callback_params(url))
    if result.dropped_optional_scopes:
        print(f"optional scopes not granted: {' '.join(result.dropped_optional_scopes)}", file=sys.stderr)
    print(result.hub_id)
    return 0


def _install_pending(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    rows = pending_installs.list_pending(ctx, actor=actor)
    for p in rows:
        made = f"{p.created_at:%Y-%m-%d %H:%M:%S}" if p.created_at else "-"
        print(cells(p.id, p.hub_id or "-", made, f"by {p.actor}", f"{p.attempts} attempt(s)", p.last_error))
    print(f"{len(rows)} pending install(s)", file=sys.stderr)
    return 0


def _install_resume(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    result = install.finish_pending_install(ctx, actor=actor, pending_id=args.pending_id)
    print(result.hub_id)
    return 0


def _uninstall(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    uninstall.uninstall_from_account(ctx, args.hub_id, actor=actor)
    print(f"{args.hub_id}: uninstalled from the HubSpot account")
    return 0


def _connections(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    """One page by hub id (``--limit``, ``--after`` = the last hub id of the previous page): the same
    SQL listing as the Connections page; stderr names the ``--after`` for the next page."""
    filters = listing.Filters(search=args.search or "", statuses=(args.status,) if args.status else (),
                              scope=args.scope)
    if args.csv or args.output:
        return cli_pages.connections_csv(args, ctx, actor, filters)
    page = listing.list_page(ctx, actor=actor, filters=filters, sort="hub_id", limit=args.limit, after=args.after,
                             with_total=False)
    rows = page.rows
    if page.next_after is not None:
        print(f"more: --after {page.next_after}", file=sys.stderr)
    if args.json:
        _print_json([c.as_json() for c in rows])
        return 0
    for c in rows:
        exp = c.expires_at.isoformat(timespec="seconds") if c.expires_at else "-"
        # No expiry where the token is not going to be used (revoked, needs re-auth ...): what to do instead.
        when = status.INSTEAD_OF_COUNTDOWN.get(c.status, "-") if c.status in status.NO_COUNTDOWN else f"expires {exp}"
        granted = len(c.granted_scopes)
        print(cells(c.hub_id, c.hub_domain or "-", c.status, when, f"{granted} scope{'' if granted == 1 else 's'}"))
    print(f"{len(rows)} connection(s)", file=sys.stderr)
    return 0


def _revoke(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    conns.revoke(ctx, args.hub_id, actor=actor, local_only=args.local_only)
    print(f"{args.hub_id}: revoked" + (" (local only)" if args.local_only else ""))
    return 0


def _test(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    report = conns.test_connection(ctx, args.hub_id, actor=actor)
    print(f"{report.hub_id}: {'healthy' if report.healthy else 'unhealthy'} ({report.reason})")
    return 0 if report.healthy else 1


def _scopes_url(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    s = ScopeSet.from_lists(required=_flatten(args.scope), optional=_flatten(args.optional_scope))
    print(ctx.authorize_url(s, state=args.state, account_id=args.account_id))
    return 0


# --- parser --------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dashboard", description="HubSpot OAuth dashboard: token vault and tools")
    p.add_argument("--actor", help="name recorded in the audit log (default: cli:<OS user>)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG (never logs tokens)")
    p.add_argument("--app", metavar="NAME", help="the configured app to act on (default: the default app; "
                   "`refresh --due` sweeps every app unless one is named)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    dbp = command_group(sub, "db", help="database", parser_class=_Parser)
    dbp.add_parser("upgrade", help="apply migrations").set_defaults(handler=_db_upgrade)

    kp = command_group(sub, "keys", help="encryption keys", parser_class=_Parser)
    gen = kp.add_parser("generate", help="print a new key_id:base64 entry")
    gen.add_argument("--key-id")
    gen.set_defaults(handler=None)
    kp.add_parser("status", help="rows per key id").set_defaults(handler=_keys_status)
    rot = kp.add_parser("rotate", help="re-encrypt every row to the first key")
    rot.add_argument("--batch-size", type=_positive_int, default=100)
    rot.set_defaults(handler=_keys_rotate)

    sub.add_parser("sandbox", help="run the sandbox HubSpot (see `sandbox --help`)", add_help=False)

    ip = command_group(sub, "install", help="install flow", parser_class=_Parser)
    st = ip.add_parser("start", help="print an authorization URL (last line)")
    _scope_args(st)
    st.set_defaults(handler=_install_start)
    fin = ip.add_parser("finish", help="complete an install from the callback URL")
    fin.add_argument("callback_url", help="the callback URL, or - to read it from standard input (preferred)")
    fin.set_defaults(handler=_install_finish)
    ip.add_parser("pending", help="installs HubSpot granted that could not be finished (tokens kept)"
                  ).set_defaults(handler=_install_pending)
    res = ip.add_parser("resume", help="finish a pending install (see `install pending`)")
    res.add_argument("pending_id", type=_positive_int)
    res.set_defaults(handler=_install_resume)

    cli_links.register(sub, _Parser)

    cp = sub.add_parser("connections", help="list connections")
    cp.add_argument("--json", action="store_true")
    cp.add_argument("--search")
    cp.add_argument("--status", choices=conns.STATUSES)
    cp.add_argument("--scope", help="only portals granted this scope")
    cp.add_argument("--limit", type=int, default=listing.MAX_LIMIT, help=f"rows per page (1-{listing.MAX_LIMIT})")
    cp.add_argument("--after", type=hub_id_arg, help="hub id: list the portals after it (the next page)")
    cp.add_argument("--csv", action="store_true", help="every matching connection as the page's CSV export")
    cp.add_argument("-o", "--output", metavar="FILE", help="write the CSV to FILE (implies --csv; - for stdout)")
    cp.set_defaults(handler=_connections)

    cli_refresh.register(sub, _Parser)

    vp = sub.add_parser("revoke", help="revoke a connection at HubSpot and forget its tokens")
    vp.add_argument("--hub-id", type=hub_id_arg, required=True)
    vp.add_argument("--local-only", action="store_true", help="forget the tokens without calling HubSpot")
    vp.set_defaults(handler=_revoke)

    up = sub.add_parser("uninstall", help="uninstall the app from the portal's HubSpot account (admin)")
    up.add_argument("--hub-id", type=hub_id_arg, required=True)
    up.set_defaults(handler=_uninstall)

    tp = sub.add_parser("test", help="health check of one connection")
    tp.add_argument("--hub-id", type=hub_id_arg, required=True)
    tp.set_defaults(handler=_test)

    cli_pages.register_audit(sub, _Parser)

    sp = command_group(sub, "scopes", help="scope tools", parser_class=_Parser)
    url = sp.add_parser("url", help="print the encoded authorization URL")
    _scope_args(url)
    url.add_argument("--state")
    url.set_defaults(handler=_scopes_url)
    cli_pages.register_lint(sp, _Parser)

    cli_service.register(sub, _Parser)  # workers, apps, api-keys
    cli_proxy.register(sub, _Parser)  # api
    cli_pages.register(sub, _Parser)  # scope-sets, token-info
    cli_webhooks.register(sub, _Parser)
    cli_health.register(sub, _Parser)  # timeline, health
    return p


def _reader_gone() -> int:
    """``python -m dashboard audit | head -1``: the reader closed the pipe; end quietly, as ``cat`` does.

    Python's recipe (docs: signal, "Note on SIGPIPE"): point stdout at /dev/null so the interpreter's final
    flush does not raise again, and exit with 128 + SIGPIPE like a tool killed by the signal."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sandbox"]:
        from dashboard.sandbox.cli import main as sandbox_main

        return sandbox_main(args_list[1:])
    install_redaction()
    with escaped_output():
        return _run(args_list)


def _run(args_list: list[str]) -> int:
    ctx: AppContext | None = None
    try:
        args = build_parser().parse_args(args_list)
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        if getattr(args, "keys_cmd", None) == "generate":
            print(generate_key_entry(args.key_id))
            return 0
        # These never call HubSpot: no sandbox needed.
        offline = (args.command in ("db", "keys", "workers", "api-keys", "webhooks", "apps")
                   or getattr(args, "offline", False))
        settings = load_settings()
        if args.app is not None:
            settings.check_app(args.app)  # before the database is opened: nothing written for an unknown app
        ctx = build_context(settings, start_sandbox=not offline)
        handler: Handler = args.handler
        code = handler(args, ctx.for_app(args.app) if args.app else ctx, cli_actor(args.actor))
        sys.stdout.flush()  # inside the try: a reader that went away (| head) is a BrokenPipeError here
        return code
    except BrokenPipeError:
        return _reader_gone()
    except (ConfigurationError, InputError) as exc:
        print(f"error: {escape_controls(str(exc))}", file=sys.stderr)
        return 2
    except DashboardError as exc:
        print(f"error: {escape_controls(str(exc))}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: the database failed ({exc.__class__.__name__}); check DASHBOARD_DATABASE_URL",
              file=sys.stderr)
        return 1
    finally:
        if ctx is not None:
            ctx.close()
