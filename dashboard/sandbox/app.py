"""Assembles the sandbox's ASGI app: routes, conditions middleware, and one state per app."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from .api_routes import ApiEndpoints
from .conditions import ConditionsMiddleware
from .config import SandboxConfig
from .control_routes import ControlEndpoints
from .install_routes import InstallEndpoints
from .oauth_routes import OAuthEndpoints
from .state import SandboxState
from .tiers import parse_tier


def build_app(config: SandboxConfig) -> tuple[Starlette, SandboxState]:
    """A fresh Starlette app playing HubSpot for ``config``, and the state it serves from.

    Raises ``ValueError`` if ``config.app_scopes`` is not valid scope settings or an account's tier is not
    in the sandbox's tier language, so a bad config fails at start, not at the first install.
    """
    for account in config.accounts:
        parse_tier(account.tier)
    state = SandboxState(config)
    routes = [
        *InstallEndpoints(state).routes(),
        *OAuthEndpoints(state).routes(),
        *ApiEndpoints(state).routes(),
        *ControlEndpoints(state).routes(),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(ConditionsMiddleware, state=state)])
    return app, state
