"""``python -m devtools.oidc``: the test OpenID provider in the foreground until Ctrl-C (offline sign-in demo).

Prints the discovery URL and the client id, never the client secret.
"""

from __future__ import annotations

import argparse
import signal
import sys

from .protocol import DEFAULT_OIDC_USERS, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OidcConfig, OidcUser
from .server import OidcServer

DEFAULT_PORT = 8766


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.oidc",
                                description="A local OpenID Connect provider for st.login, for tests and demos.")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port; 0 = any free port (default: {DEFAULT_PORT})")
    p.add_argument("--client-id", default=OIDC_CLIENT_ID, help=f"default: {OIDC_CLIENT_ID}")
    p.add_argument("--client-secret", default=OIDC_CLIENT_SECRET, help="default: the published placeholder")
    p.add_argument("--redirect-uri", dest="redirect_uris", action="extend", nargs="+", metavar="URI",
                   help=f"registered sign-in redirect URI, exact match; repeatable (default: {OIDC_REDIRECT_URI})")
    p.add_argument("--user", dest="users", action="extend", nargs="+", metavar="EMAIL",
                   help=f"who may sign in; repeatable (default: {', '.join(DEFAULT_OIDC_USERS)})")
    return p


def config_from_args(args: argparse.Namespace) -> OidcConfig:
    """``ValueError`` for a user that is not an email address."""
    return OidcConfig(client_id=args.client_id, client_secret=args.client_secret,
                      redirect_uris=args.redirect_uris or [OIDC_REDIRECT_URI],
                      users=[OidcUser.from_json(e) for e in args.users or DEFAULT_OIDC_USERS])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        print("error: --port must be between 0 and 65535", file=sys.stderr)
        return 2
    try:
        server = OidcServer(config_from_args(args), host=args.host, port=args.port).start()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    print(f"OpenID provider running at {server.url}", flush=True)
    print(f"  server_metadata_url: {server.metadata_url}", flush=True)
    print(f"  client id: {server.config.client_id}; redirect URIs: {' '.join(server.config.redirect_uris)}",
          flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
