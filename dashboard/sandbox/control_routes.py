"""The ``/_sandbox/`` controls: JSON in, JSON out, for tests, scripts and benchmarks (docs/sandbox.md).

Errors are ``{"error": code, "message": text}`` with a 4xx status. Controls are never slowed or faulted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .authorize import decide, parse_authorize_url, parse_request
from .bodies import json_object, optional_int, required_int
from .catalog import unknown_scopes
from .config import AppScopes, SandboxAccount
from .errors import AuthorizeError
from .faults import FaultRule
from .fidelity import check_revoke_status, check_uninstall_mode
from .state import SandboxState
from .tiers import parse_tier
from .tokens import issue_pair

Handler = Callable[[Request], Awaitable[Response]]
MAX_NEW_ACCOUNTS = 10_000
INT32_MAX = 2**31 - 1  # Hub ids are int32 in HubSpot's specs.


class ControlError(Exception):
    """A control request that cannot be served: ``status`` (404, 409, ...), ``error`` code, ``message``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _json_errors(handler: Handler) -> Handler:
    """Turn the exceptions a control raises into ``{"error", "message"}`` responses."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except AuthorizeError as exc:
            return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.http_status)
        except ControlError as exc:
            return JSONResponse({"error": exc.error, "message": exc.message}, status_code=exc.status)
        except ValueError as exc:  # BodyError and every validation error
            return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)

    return run


class ControlEndpoints:
    """Handlers bound to one sandbox's state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """Every ``/_sandbox/`` route."""
        table: list[tuple[str, Handler, list[str]]] = [
            ("/_sandbox", self.info, ["GET"]),
            ("/_sandbox/consent", self.consent, ["POST"]),
            ("/_sandbox/accounts", self.list_accounts, ["GET"]),
            ("/_sandbox/accounts", self.add_accounts, ["POST"]),
            ("/_sandbox/tokens", self.tokens, ["GET"]),
            ("/_sandbox/stats", self.stats, ["GET"]),
            ("/_sandbox/api-log", self.api_log, ["GET"]),
            ("/_sandbox/uninstall", self.uninstall, ["POST"]),
            ("/_sandbox/installs", self.installs, ["GET"]),
            ("/_sandbox/faults", self.get_faults, ["GET"]),
            ("/_sandbox/faults", self.set_faults, ["POST"]),
            ("/_sandbox/faults", self.clear_faults, ["DELETE"]),
            ("/_sandbox/reset", self.reset, ["POST"]),
            ("/_sandbox/config", self.get_config, ["GET"]),
            ("/_sandbox/config", self.set_config, ["POST"]),
            ("/_sandbox/issue", self.issue, ["POST"]),
            ("/_sandbox/clock", self.clock, ["POST"]),
        ]
        return [Route(path, _json_errors(handler), methods=methods) for path, handler, methods in table]

    def _account(self, hub_id: int) -> SandboxAccount:
        account = self.state.accounts.get(hub_id)
        if account is None:
            raise ControlError(404, "unknown_account", f"no account with hub id {hub_id}")
        return account

    async def info(self, request: Request) -> Response:
        """The app as HubSpot's developer settings would show it (never the client secret)."""
        config = self.state.config
        return JSONResponse(
            {
                "app_name": config.app_name,
                "app_id": config.app_id,
                "client_id": config.client_id,
                "redirect_uris": config.redirect_uris,
                "authorize_url": str(request.base_url).rstrip("/") + "/oauth/authorize",
                "settings": self.state.settings.to_json(),
            }
        )

    async def consent(self, request: Request) -> Response:
        """``{"authorize_url", "account_id"?, "decision"?}`` -> ``{"redirect_url"}``, as the page would do."""
        data = await json_object(request)
        url = data.get("authorize_url")
        if not isinstance(url, str) or not url:
            raise ValueError("'authorize_url' is required")
        decision = data.get("decision", "grant")
        if not isinstance(decision, str):
            raise ValueError("'decision' must be 'grant' or 'deny'")
        params, path_account = parse_authorize_url(url)
        parsed = parse_request(self.state, params, path_account)
        target = decide(self.state, parsed, optional_int(data, "account_id"), decision)
        return JSONResponse({"redirect_url": target})

    async def list_accounts(self, request: Request) -> Response:
        """Every account."""
        return JSONResponse({"accounts": [a.to_json() for a in self.state.accounts.values()]})

    async def add_accounts(self, request: Request) -> Response:
        """``{"hub_id", "domain"?, "tier"?}`` or ``{"count", "tier"?}``; 201 with the new accounts."""
        data = await json_object(request)
        tier = data.get("tier", "free")
        if not isinstance(tier, str):
            raise ValueError("'tier' must be a string")
        parse_tier(tier)
        accounts = self.state.accounts
        if "count" in data:
            count = required_int(data, "count")
            if not 1 <= count <= MAX_NEW_ACCOUNTS:
                raise ValueError(f"'count' must be between 1 and {MAX_NEW_ACCOUNTS}")
            start = max(accounts, default=1_000_000) + 1
            created = [
                SandboxAccount(h, f"portal-{h}.hubspot.com", tier) for h in range(start, start + count)
            ]
        else:
            hub_id = required_int(data, "hub_id")
            if not 1 <= hub_id <= INT32_MAX:
                raise ValueError("'hub_id' must be a positive int32")
            if hub_id in accounts:
                raise ControlError(409, "account_exists", f"account {hub_id} already exists")
            domain = data.get("domain") or f"portal-{hub_id}.hubspot.com"
            if not isinstance(domain, str):
                raise ValueError("'domain' must be a string")
            created = [SandboxAccount(hub_id, domain, tier)]
        for account in created:
            accounts[account.hub_id] = account
        return JSONResponse({"accounts": [a.to_json() for a in created]}, status_code=201)

    async def tokens(self, request: Request) -> Response:
        """Every issued token (``?hub_id=`` filters): ``hub_id``, ``kind``, ``token``, ``active``, ...; refresh
        tokens also say ``in_grace`` (rotated, still refreshing within ``rotation_grace_s``)."""
        raw = request.query_params.get("hub_id")
        try:
            wanted = None if raw is None else int(raw)
        except ValueError:
            raise ValueError("'hub_id' must be an integer") from None
        now = self.state.now()
        rows: list[dict[str, Any]] = []
        for access in self.state.access_tokens.values():
            if wanted is None or access.hub_id == wanted:
                active = access.install.active and now < access.expires_at
                rows.append(
                    self._row("access", access.token, access.hub_id, active, access.scopes, access.issued_at)
                    | {"expires_at": access.expires_at}
                )
        for refresh in self.state.refresh_tokens.values():
            if wanted is None or refresh.hub_id == wanted:
                in_grace = refresh.in_grace(now, self.state.settings.rotation_grace_s)
                rows.append(
                    self._row(
                        "refresh",
                        refresh.token,
                        refresh.hub_id,
                        refresh.usable(),
                        refresh.scopes,
                        refresh.issued_at,
                    )
                    | {"in_grace": in_grace}
                )
        return JSONResponse({"tokens": rows})

    @staticmethod
    def _row(
        kind: str, token: str, hub_id: int, active: bool, scopes: tuple[str, ...], issued: float
    ) -> dict[str, Any]:
        return {
            "hub_id": hub_id,
            "kind": kind,
            "token": token,
            "active": active,
            "scopes": list(scopes),
            "issued_at": issued,
        }

    async def stats(self, request: Request) -> Response:
        """Request and error counters."""
        return JSONResponse(self.state.stats.to_json())

    async def api_log(self, request: Request) -> Response:
        """The last API requests (method, path, query, header names, whether Authorization held a token
        the sandbox issued); ``DELETE``-free: a reset clears it."""
        return JSONResponse({"requests": list(self.state.api_log)})

    async def uninstall(self, request: Request) -> Response:
        """``{"hub_id"}``: the customer uninstalled the app; every token of the install stops working."""
        hub_id = required_int(await json_object(request), "hub_id")
        self._account(hub_id)
        revoked = self.state.uninstall(hub_id)
        return JSONResponse({"hub_id": hub_id, "revoked_refresh_tokens": revoked})

    async def installs(self, request: Request) -> Response:
        """The accounts the app is installed on now, as HubSpot's app settings list them."""
        active = sorted(hub for hub, install in self.state.installs.items() if install.active)
        return JSONResponse({"installs": [{"hub_id": hub} for hub in active]})

    async def get_faults(self, request: Request) -> Response:
        """The active fault rules per target."""
        return JSONResponse(self.state.faults.to_json())

    async def set_faults(self, request: Request) -> Response:
        """Install a fault rule (see ``faults.py``); ``seed`` makes the draws repeatable."""
        data = await json_object(request)
        seed = data.pop("seed", None)
        rule = FaultRule.from_json(data)
        if seed is not None:
            self.state.rng.seed(seed)
        self.state.faults.set(rule)
        return JSONResponse(self.state.faults.to_json())

    async def clear_faults(self, request: Request) -> Response:
        """Remove every fault rule."""
        self.state.faults.clear()
        return JSONResponse(self.state.faults.to_json())

    async def reset(self, request: Request) -> Response:
        """Back to the configured start: no tokens, codes, installs, stats, faults, clock shift, overrides."""
        self.state.reset()
        return JSONResponse({"reset": True})

    async def get_config(self, request: Request) -> Response:
        """The runtime settings."""
        return JSONResponse(self.state.settings.to_json())

    async def set_config(self, request: Request) -> Response:
        """Change any of ``access_token_ttl``, ``code_ttl``, ``rotate_refresh_tokens``, ``rotation_grace_s``,
        ``latency_ms``, ``app_scopes`` (``null`` = permissive), ``rich_token_body``, ``uninstall_mode``,
        ``revoke_dead_token_status`` (see ``fidelity.py``), ``daily_limit`` (``null``: the account's tier's)."""
        data = await json_object(request)
        settings = self.state.settings
        unknown = set(data) - set(settings.to_json())
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        # Validate everything before changing anything, so a bad request leaves the settings untouched.
        changes: dict[str, Any] = {}
        if "daily_limit" in data:
            raw_limit = data["daily_limit"]
            if raw_limit is not None and (isinstance(raw_limit, bool) or not isinstance(raw_limit, int)
                                          or raw_limit < 1):
                raise ValueError("'daily_limit' must be a positive number of requests, or null for the tier's")
            changes["daily_limit"] = raw_limit
        for name in ("access_token_ttl", "latency_ms"):
            if name in data:
                value = required_int(data, name)
                if value < (1 if name == "access_token_ttl" else 0):
                    raise ValueError(f"'{name}' is out of range")
                changes[name] = value
        if "code_ttl" in data:
            value = data["code_ttl"]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError("'code_ttl' must be a positive number of seconds")
            changes["code_ttl"] = float(value)
        if "rotation_grace_s" in data:
            value = data["rotation_grace_s"]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 86_400:
                raise ValueError("'rotation_grace_s' must be a number of seconds between 0 and 86400")
            changes["rotation_grace_s"] = float(value)
        if "rotate_refresh_tokens" in data:
            if not isinstance(data["rotate_refresh_tokens"], bool):
                raise ValueError("'rotate_refresh_tokens' must be true or false")
            changes["rotate_refresh_tokens"] = data["rotate_refresh_tokens"]
        if "rich_token_body" in data:
            if not isinstance(data["rich_token_body"], bool):
                raise ValueError("'rich_token_body' must be true or false")
            changes["rich_token_body"] = data["rich_token_body"]
        if "uninstall_mode" in data:
            changes["uninstall_mode"] = check_uninstall_mode(data["uninstall_mode"])
        if "revoke_dead_token_status" in data:
            changes["revoke_dead_token_status"] = check_revoke_status(data["revoke_dead_token_status"])
        if "app_scopes" in data:
            raw = data["app_scopes"]
            changes["app_scopes"] = None if raw is None else AppScopes.from_json(raw)
        for name, value in changes.items():
            setattr(settings, name, value)
        return JSONResponse(settings.to_json())

    async def issue(self, request: Request) -> Response:
        """``{"hub_id", "scopes"?}``: a token response as a code exchange would give, without the install."""
        data = await json_object(request)
        hub_id = required_int(data, "hub_id")
        self._account(hub_id)
        scopes = data.get("scopes", ["oauth"])
        if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
            raise ValueError("'scopes' must be a list of scope names")
        unknown = unknown_scopes(scopes)
        if unknown:
            raise ValueError(f"unknown scope(s): {', '.join(unknown)}")
        self.state.stats.issued += 1
        return JSONResponse(issue_pair(self.state, hub_id=hub_id, scopes=tuple(dict.fromkeys(scopes))))

    async def clock(self, request: Request) -> Response:
        """``{"advance": seconds}``: move the sandbox's clock forward to age codes and tokens instantly."""
        data = await json_object(request)
        advance = data.get("advance")
        if isinstance(advance, bool) or not isinstance(advance, int | float) or advance < 0:
            raise ValueError("'advance' must be a non-negative number of seconds")
        self.state.clock_offset += float(advance)
        return JSONResponse({"offset": self.state.clock_offset, "now": self.state.now()})
