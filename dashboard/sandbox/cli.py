"""``sandbox``: run the local HubSpot in the foreground until Ctrl-C.

Prints the URL and the client id; never the client secret (it is the documented sandbox placeholder,
but secrets do not belong in terminal scrollback or CI logs on principle).
"""

from __future__ import annotations

import argparse
import sys

from .config import (
    DEFAULT_REDIRECT_URI,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SandboxConfig,
    load_app_scopes_file,
)
from .fidelity import REVOKE_DEAD_STATUSES, UNINSTALL_MODES
from .server import SandboxServer

DEFAULT_PORT = 8765


def build_parser(prog: str = "sandbox") -> argparse.ArgumentParser:
    """The argument parser (exposed so ``python -m dashboard`` can embed it as a subcommand)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Run a local server that behaves like HubSpot's OAuth API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port, 0 for a free one (default: {DEFAULT_PORT})"
    )
    parser.add_argument("--client-id", default=SANDBOX_CLIENT_ID, help="the app's client id")
    parser.add_argument("--client-secret", default=SANDBOX_CLIENT_SECRET, help="the app's client secret")
    parser.add_argument(
        "--redirect-uri",
        dest="redirect_uris",
        action="extend",
        nargs="+",
        metavar="URI",
        help=f"registered redirect URI, exact match; repeatable (default: {DEFAULT_REDIRECT_URI})",
    )
    parser.add_argument(
        "--app-scopes",
        metavar="FILE",
        help="JSON file with required / conditionally_required / optional scope lists (default: permissive)",
    )
    parser.add_argument(
        "--access-token-ttl", type=int, default=1800, help="access token lifetime in s (default: 1800)"
    )
    parser.add_argument(
        "--code-ttl", type=float, default=30, help="authorization code lifetime in s (default: 30)"
    )
    parser.add_argument(
        "--rotate-refresh-tokens",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="issue a new refresh token on each refresh and retire the old one (default: off, as HubSpot "
        "documents)",
    )
    parser.add_argument(
        "--rich-token-body",
        action="store_true",
        help="token responses carry every optional field on every API version (default: as each guide shows)",
    )
    parser.add_argument(
        "--uninstall-mode",
        choices=UNINSTALL_MODES,
        default="bad_refresh_token",
        help="what refreshing a token of an uninstalled app answers (default: bad_refresh_token)",
    )
    parser.add_argument(
        "--revoke-dead-token-status",
        type=int,
        choices=REVOKE_DEAD_STATUSES,
        default=200,
        help="HTTP status for revoking a token that is already dead (default: 200, success)",
    )
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="latency added to every HubSpot endpoint (default: 0)"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Turn parsed arguments into a :class:`SandboxConfig`; ``ValueError`` for a bad scopes file or value."""
    if args.port < 0 or args.port > 65535:
        raise ValueError("--port must be between 0 and 65535")
    if args.access_token_ttl < 1 or args.code_ttl <= 0 or args.latency_ms < 0:
        raise ValueError("--access-token-ttl and --code-ttl must be positive, --latency-ms not negative")
    return SandboxConfig(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=args.redirect_uris or [DEFAULT_REDIRECT_URI],
        app_scopes=None if args.app_scopes is None else load_app_scopes_file(args.app_scopes),
        access_token_ttl=args.access_token_ttl,
        code_ttl=args.code_ttl,
        rotate_refresh_tokens=args.rotate_refresh_tokens,
        rich_token_body=args.rich_token_body,
        uninstall_mode=args.uninstall_mode,
        revoke_dead_token_status=args.revoke_dead_token_status,
        latency_ms=args.latency_ms,
    )


def _print_banner(server: SandboxServer, config: SandboxConfig) -> None:
    scopes = "strict app scopes" if config.app_scopes is not None else "permissive scopes"
    accounts = ", ".join(f"{a.hub_id} ({a.tier})" for a in config.accounts)
    print(f"HubSpot sandbox running at {server.url}", flush=True)
    print(f"  client id:     {config.client_id}", flush=True)
    print(f"  redirect URIs: {' '.join(config.redirect_uris)}", flush=True)
    print(f"  accounts:      {accounts}; {scopes}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until Ctrl-C. Returns 0, or 2 for bad arguments / a port that cannot be bound."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        server = SandboxServer(config).start()
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        _print_banner(server, config)
        server.wait()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the sandbox is meant to stop.
    finally:
        server.stop()
    return 0
