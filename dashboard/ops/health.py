"""Readiness: is this dashboard able to do its job? Each check named, so ``/readyz`` says which one fails.

``database``: one query answers. ``keys``: the cipher has a key and no stored row names a key id that is not
configured. ``worker``: some refresh worker (embedded or CLI) swept within twice its interval. ``tokens``:
this process holds no refreshed tokens that neither the database nor the spill journal took.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from dashboard import repository
from dashboard.actors import VIEWER, Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.refresh import worker

# A named system actor is the truth here: /readyz is asked by a probe, not by a person or a worker.
READINESS_PROBE = Actor("system:readiness-probe", VIEWER)


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]  # check -> "ok" or a short reason

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [k for k, v in self.checks.items() if v != "ok"]


def readiness(ctx: AppContext) -> Readiness:
    held = sum(len(c.unsaved) for c in (ctx.each_app() if ctx.apps is not None else [ctx]))  # every app's
    tokens = "ok" if not held else \
        f"{held} refreshed token(s) held only in memory: neither the database nor the spill journal takes them"
    checks: dict[str, str] = {}
    try:
        with ctx.session() as session:
            repository.ping(session=session)
            rows = repository.rows_per_key(session=session)
    except (SQLAlchemyError, DashboardError) as exc:
        reason = f"the database failed ({exc.__class__.__name__})"
        return Readiness({"database": reason, "keys": "not checked", "worker": "not checked", "tokens": tokens})
    checks["database"] = "ok"
    unknown = sorted(set(rows) - set(ctx.cipher.key_ids))
    if not ctx.cipher.key_ids:
        checks["keys"] = "no encryption key is configured"
    elif unknown:
        checks["keys"] = f"rows use key ids that are not configured: {', '.join(unknown)}"
    else:
        checks["keys"] = "ok"
    try:
        status = worker.sweep_status(ctx, actor=READINESS_PROBE)
        checks["worker"] = "ok" if status.healthy else "no worker swept within twice its interval"
    except (SQLAlchemyError, DashboardError) as exc:
        checks["worker"] = f"cannot read the heartbeats ({exc.__class__.__name__})"
    checks["tokens"] = tokens
    return Readiness(checks)
