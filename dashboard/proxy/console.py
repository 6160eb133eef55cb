"""Calls through the proxy for people: the API console on a portal's page and ``python -m dashboard api``.

Operators may send GET and HEAD; other methods need an admin (the page also asks for a typed confirmation).
Each call is audited with its method and path, never the query (it may name a customer's contacts) nor the
body. The call goes through the same :class:`ProxyService` as the HTTP API: the portal's window, the
single-flight refresh, the 401 retry and the usage counts are the same.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dashboard.actors import Actor
from dashboard.admin.api_keys import ApiKeyInfo
from dashboard.context import AppContext
from dashboard.errors import DashboardError, InputError
from dashboard.proxy import paths
from dashboard.proxy.service import ProxyResponse, ProxyService
from dashboard.proxy.usage import usage_summary
from dashboard.refresh import service as refresh
from dashboard.security import audit
from dashboard.security.guard import require

EXAMPLES = (
    "/crm/v3/objects/contacts?limit=5",
    "/crm/v3/objects/contacts/1",
    "/account-info/v3/details",
)


@dataclass(frozen=True)
class ConsoleCall:
    method: str
    path: str
    query: str


def parse_target(method: str, target: str) -> ConsoleCall:
    """``GET`` + ``/crm/v3/objects/contacts?limit=1`` -> method, checked path, query."""
    method = method.strip().upper()
    if method not in paths.ALLOWED_METHODS:
        raise InputError(f"method must be one of {', '.join(paths.ALLOWED_METHODS)}")
    parts = urlsplit(target.strip())
    if parts.scheme or parts.netloc:
        raise paths.bad_path("absolute URLs are not allowed")
    return ConsoleCall(method, paths.resolve_path(parts.path), parts.query)


_services: dict[int, ProxyService] = {}
_services_lock = threading.Lock()


def shared_service(ctx: AppContext) -> ProxyService:
    """One console service per context (its usage counts flush in the background; the page reuses it)."""
    with _services_lock:
        service = _services.get(id(ctx))
        if service is None or service.ctx is not ctx:
            service = _services[id(ctx)] = service_for(ctx)
        return service


def portal_usage(ctx: AppContext, *, actor: Actor, hub_id: int, hours: int = 24) -> dict[str, Any]:
    """The portal's proxied calls (every key, replica and console) over the last ``hours``."""
    require(ctx.engine, actor, "view", action="proxy.usage", hub_id=hub_id)
    with _services_lock:
        mine = _services.get(id(ctx))
    if mine is not None:
        mine.usage.flush()
    return usage_summary(ctx, hub_id, hours=hours)


def service_for(ctx: AppContext) -> ProxyService:
    """A proxy service whose tokens come from the refresh service (people have no API key). Its calls are
    audited one by one (``proxy.call``), so they add no per-minute rows to the portal's timeline."""
    return ProxyService(ctx, lambda key, hub_id: refresh.get_access_token(ctx, hub_id,
                                                                          actor=Actor(key.name, key.role)),
                        timeline=False)


def call(service: ProxyService, *, actor: Actor, hub_id: int, method: str, target: str,
         body: bytes = b"", via: str = "console") -> ProxyResponse:
    """One call as ``actor``: GET/HEAD for operators, any method for admins."""
    parsed = parse_target(method, target)
    write = parsed.method not in paths.READ_METHODS
    require(service.ctx.engine, actor, "settings" if write else "test", action="proxy.call", hub_id=hub_id)
    caller = ApiKeyInfo(prefix=via, name=actor.name, role=actor.role, hub_ids=(), created_by=actor.name,
                        created_at=None, expires_at=None, last_used_at=None, revoked_at=None)
    outcome, status = "failure", "error"
    try:
        answer = service.call(caller, hub_id, parsed.method, parsed.path, query=parsed.query,
                              headers=[("content-type", "application/json")] if body else [], body=body)
        outcome, status = ("success" if answer.status < 400 else "failure"), str(answer.status)
        return answer
    except DashboardError as exc:
        status = exc.code
        raise
    finally:
        with service.ctx.session() as session, service.ctx.writing():
            audit.record(session, actor=actor.name, action="proxy.call", outcome=outcome, hub_id=hub_id,
                         detail=f"{via}: {parsed.method} {parsed.path} -> {status}"[:300])
            session.commit()
