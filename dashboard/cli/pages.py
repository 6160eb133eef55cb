"""``python -m dashboard scope-sets | scopes lint | token-info | audit | connections --csv``: what the Scope
builder, Connections and Activity pages do, through the same services.

Kept beside ``cli.py`` (which registers these parsers) so neither module passes ~300 lines. Scope sets
travel as HubSpot's JSON (:func:`dashboard.scopes.catalog.to_hubspot_json`), the page can offer the same file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from dashboard.actors import Actor
from dashboard.cli.groups import command_group, hub_id_arg, number_arg
from dashboard.cli.output import cells
from dashboard.connections import activity, export, listing
from dashboard.connections import service as conns
from dashboard.context import AppContext
from dashboard.errors import InputError, UsageError
from dashboard.installs import scope_sets
from dashboard.scopes import catalog as scopes
from dashboard.scopes import lint as scope_lint
from dashboard.scopes.catalog import ScopeSet

# The CLI reads a scope-set file whole; HubSpot's catalog as JSON is ~20 kB, so this is generous.
MAX_IMPORT_BYTES = 1_000_000


def _names(values: list[list[str]] | None) -> list[str]:
    return [s for group in values or [] for item in group for s in item.split()]


def _bucket_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scope", action="append", nargs="+", metavar="S", help="required scope(s); repeatable")
    p.add_argument("--conditional-scope", action="append", nargs="+", metavar="S",
                   help="conditionally required scope(s); repeatable")
    p.add_argument("--optional-scope", action="append", nargs="+", metavar="S", help="optional scope(s)")


def _from_args(args: argparse.Namespace) -> ScopeSet:
    return ScopeSet.from_lists(required=_names(args.scope), conditionally_required=_names(args.conditional_scope),
                               optional=_names(args.optional_scope))


def _read_scope_file(path: str) -> ScopeSet:
    """HubSpot's JSON from a file, or from stdin for ``-``."""
    try:
        if path == "-":
            text = sys.stdin.read(MAX_IMPORT_BYTES + 1)
        else:
            with Path(path).open(encoding="utf-8") as f:
                text = f.read(MAX_IMPORT_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path[:200]} ({exc.__class__.__name__})") from None
    if len(text) > MAX_IMPORT_BYTES:
        raise InputError(f"{path[:200]} is larger than {MAX_IMPORT_BYTES} bytes; a scope set is far smaller")
    return scopes.parse_hubspot_json(text)


def _print_set(scope_set: ScopeSet) -> None:
    for bucket in scopes.BUCKETS:
        print(f"{scopes.BUCKET_LABELS[bucket]}:\t{' '.join(scope_set.bucket(bucket)) or '-'}")


# --- scope-sets ----------------------------------------------------------------------------------------

def _sets_list(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    sets = scope_sets.list_scope_sets(ctx, actor=actor)
    if args.json:
        print(json.dumps({name: scopes.to_hubspot_json(s) for name, s in sets.items()}, indent=2))
        return 0
    for name, s in sets.items():
        print(f"{name}\t{len(s.required)} required\t{len(s.conditionally_required)} conditionally required\t"
              f"{len(s.optional)} optional")
    print(f"{len(sets)} scope set(s)", file=sys.stderr)
    return 0


def _sets_show(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    _print_set(scope_sets.load_scope_set(ctx, args.name, actor=actor))
    return 0


def _sets_save(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    scope_set = _from_args(args)
    if not scope_set.all_names():
        raise InputError("scope-sets save: give at least one --scope, --conditional-scope or --optional-scope")
    scope_sets.save_scope_set(ctx, args.name, scope_set, actor=actor)
    print(f"saved scope set {' '.join(args.name.split())} ({len(scope_set.all_names())} scopes)")
    return 0


def _sets_delete(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    scope_sets.delete_scope_set(ctx, args.name, actor=actor)
    print(f"deleted scope set {args.name}")
    return 0


def _sets_export(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    text = json.dumps(scopes.to_hubspot_json(scope_sets.load_scope_set(ctx, args.name, actor=actor)), indent=2)
    if args.output in (None, "-"):
        print(text)
        return 0
    try:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {args.output[:200]} ({exc.__class__.__name__})") from None
    print(f"wrote scope set {args.name} to {args.output}", file=sys.stderr)
    return 0


def _sets_import(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    scope_set = _read_scope_file(args.file)
    scope_sets.save_scope_set(ctx, args.name, scope_set, actor=actor)
    print(f"imported scope set {' '.join(args.name.split())} ({len(scope_set.all_names())} scopes)")
    return 0


# --- scopes lint, token-info ---------------------------------------------------------------------------

def _lint(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    if args.set is not None:
        scope_set = scope_sets.load_scope_set(ctx, args.set, actor=actor)
    elif args.file is not None:
        scope_set = _read_scope_file(args.file)
    else:
        scope_set = _from_args(args)
    app_scopes = scope_sets.app_scope_settings(ctx)  # the page checks against it too
    findings = scope_lint.lint(scope_set, catalog=scopes.load_catalog(), app_scopes=app_scopes)
    if args.json:
        print(json.dumps([{"level": f.level, "code": f.code, "scope": f.scope, "message": f.message}
                          for f in findings], indent=2))
    else:
        for f in findings:
            print(f"{f.level}\t{f.code}\t{f.scope or '-'}\t{f.message}")
    errors = sum(f.level == "error" for f in findings)
    print(f"{errors} error(s), {len(findings) - errors} other finding(s)"
          + (" (checked against HUBSPOT_APP_SCOPES_FILE)" if app_scopes else ""), file=sys.stderr)
    return 1 if errors else 0


def _token_info(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    info = conns.token_metadata(ctx, args.hub_id, actor=actor)  # metadata only: the token never reaches here
    fields: dict[str, Any] = {"active": info.active, "hub_id": info.hub_id, "hub_domain": info.hub_domain,
                              "user": info.user, "user_id": info.user_id, "app_id": info.app_id,
                              "token_use": info.token_use, "expires_in": info.expires_in,
                              "scopes": list(info.scopes)}
    if args.json:
        print(json.dumps(fields, indent=2))
    else:
        for key, value in fields.items():
            shown = " ".join(value) if isinstance(value, list) else "-" if value is None else value
            print(cells(f"{key}:", shown))
    return 0 if info.active else 1


# --- audit ---------------------------------------------------------------------------------------------

def connections_csv(args: argparse.Namespace, ctx: AppContext, actor: Actor, filters: listing.Filters) -> int:
    """Every matching connection as the Connections page's "Export CSV" file (same columns, formulas
    neutralized), streamed a batch at a time. ``-o FILE`` is written beside FILE and renamed into place, so
    a failed export never leaves half a file where the last good one was."""
    if args.json:
        raise UsageError("--csv and --json are exclusive")
    rows = listing.iter_connections(ctx, actor=actor, filters=filters)
    if not args.output or args.output == "-":
        export.write_connections_csv(rows, sys.stdout)
        return 0
    target = Path(args.output)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            count = export.write_connections_csv(rows, out)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"cannot write {target}: {exc.strerror or exc.__class__.__name__}") from exc
    print(f"{count} connection(s) written to {target}", file=sys.stderr)
    return 0


def _when(text: str) -> datetime:
    """An ISO date or date-time; without an offset it is UTC (the Activity page's dates are UTC days)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date (2026-12-01) or date-time (2026-12-01T09:30), "
                                         f"not {text[:60]!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _audit(args: argparse.Namespace, ctx: AppContext, actor: Actor) -> int:
    since = _when(args.since) if args.since else None
    until = _when(args.until) if args.until else None
    if until is not None and _is_day(args.until):  # a whole day, both ends included, like the page's dates
        until = datetime.combine(until.date(), time.min, UTC) + timedelta(days=1) - timedelta(microseconds=1)
    if since is not None and until is not None and since > until:
        raise InputError("audit: --since is after --until")
    events = activity.audit_events(ctx, actor=actor, hub_id=args.hub_id, action=args.action,
                                   outcome=args.outcome, who=args.who, since=since, until=until, limit=args.limit)
    if args.json:
        print(json.dumps([e.model_dump(mode="json") for e in events], indent=2, default=str))
    else:
        several = ctx.apps is not None and len(ctx.apps) > 1  # then a hub id alone does not name a connection
        for e in events:
            print(cells(f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, *([e.app] if several else []), e.hub_id or "-",
                        e.action, e.outcome, e.detail))
    return 0



def _checked_when(text: str) -> str:
    _when(text)  # refuse a bad date at parse time (exit 2); the handler converts it
    return text


AUDIT_LIMIT = number_arg(int, lambda n: 1 <= n <= 100_000, "a whole number from 1 to 100000")


# --- registration --------------------------------------------------------------------------------------

def register_audit(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """``audit`` with the Activity page's filters: portal, action, outcome, actor, time range."""
    ap = sub.add_parser("audit", help="the audit log, with the Activity page's filters")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--hub-id", type=hub_id_arg)
    ap.add_argument("--action", help="e.g. install, refresh, revoke, scope_sets.save")
    ap.add_argument("--outcome", help="success, failure, rejected, denied or conflict")
    ap.add_argument("--who", metavar="ACTOR", help="only events by this actor (the page's Actor filter)")
    ap.add_argument("--since", type=_checked_when, metavar="WHEN", help="ISO date or date-time, UTC by default")
    ap.add_argument("--until", type=_checked_when, metavar="WHEN",
                    help="ISO date (the whole day included) or date-time, UTC by default")
    ap.add_argument("--limit", type=AUDIT_LIMIT, default=200)
    ap.set_defaults(handler=_audit, offline=True)


def register_lint(scopes_sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """``scopes lint`` on the CLI's ``scopes`` table."""
    lp = scopes_sub.add_parser("lint", help="the scope builder's findings; exit 1 when any is an error")
    _bucket_args(lp)
    source = lp.add_mutually_exclusive_group()
    source.add_argument("--set", metavar="NAME", help="lint a saved scope set")
    source.add_argument("--file", metavar="PATH", help="lint HubSpot's JSON from a file (- for stdin)")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(handler=_lint, offline=True)


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``scope-sets`` and ``token-info`` on the CLI's subcommand table."""
    sp = command_group(sub, "scope-sets", help="saved scope sets (the scope builder's save / load)",
                       parser_class=parser_class)
    ls = sp.add_parser("list", help="names and scope counts")
    ls.add_argument("--json", action="store_true", help="every set as HubSpot's JSON, by name")
    ls.set_defaults(handler=_sets_list, offline=True)
    show = sp.add_parser("show", help="the scopes of one set, by bucket")
    show.add_argument("name")
    show.set_defaults(handler=_sets_show, offline=True)
    save = sp.add_parser("save", help="create or overwrite a set from --scope / --conditional-scope / "
                                      "--optional-scope")
    save.add_argument("name")
    _bucket_args(save)
    save.set_defaults(handler=_sets_save, offline=True)
    delete = sp.add_parser("delete", help="delete a set")
    delete.add_argument("name")
    delete.set_defaults(handler=_sets_delete, offline=True)
    export = sp.add_parser("export", help="a set as HubSpot's JSON (required / conditionally_required / optional)")
    export.add_argument("name")
    export.add_argument("--output", "-o", metavar="PATH", help="write to a file instead of stdout")
    export.set_defaults(handler=_sets_export, offline=True)
    imp = sp.add_parser("import", help="save HubSpot's JSON from a file (- for stdin) under a name")
    imp.add_argument("file")
    imp.add_argument("--name", required=True)
    imp.set_defaults(handler=_sets_import, offline=True)

    tp = sub.add_parser("token-info", help="metadata of a portal's access token from HubSpot (never the token)")
    tp.add_argument("--hub-id", type=hub_id_arg, required=True)
    tp.add_argument("--json", action="store_true")
    tp.set_defaults(handler=_token_info)
