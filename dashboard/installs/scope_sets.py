"""Saved scope sets (the scope builder's save / load / compare), shared by the page and the CLI."""

from __future__ import annotations

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import InputError, NotFoundError
from dashboard.models import ScopeSetRecord, utcnow
from dashboard.scopes.catalog import ScopeSet
from dashboard.security import audit
from dashboard.security.guard import require

MAX_NAME = 120


def _record_to_set(record: ScopeSetRecord) -> ScopeSet:
    return ScopeSet.from_lists(required=record.required.split(),
                               conditionally_required=record.conditionally_required.split(),
                               optional=record.optional.split())


def list_scope_sets(ctx: AppContext, *, actor: Actor) -> dict[str, ScopeSet]:
    require(ctx.engine, actor, "view", action="scope_sets.list")
    with ctx.session() as session:
        return {r.name: _record_to_set(r) for r in repository.list_scope_sets(session=session)}


def load_scope_set(ctx: AppContext, name: str, *, actor: Actor) -> ScopeSet:
    require(ctx.engine, actor, "view", action="scope_sets.load")
    with ctx.session() as session:
        record = repository.get_scope_set(session=session, name=name)
    if record is None:
        raise NotFoundError(f"no saved scope set named {name[:MAX_NAME]!r}")
    return _record_to_set(record)


def save_scope_set(ctx: AppContext, name: str, scope_set: ScopeSet, *, actor: Actor) -> None:
    """Create or overwrite the named set."""
    require(ctx.engine, actor, "scopes.save", action="scope_sets.save")
    clean = " ".join(name.split())
    if not clean or len(clean) > MAX_NAME or not clean.isprintable():
        raise InputError(f"a scope set name needs 1-{MAX_NAME} printable characters")
    now = utcnow()
    with ctx.session() as session:
        record = repository.get_scope_set(session=session, name=clean) or ScopeSetRecord(
            name=clean, created_by=actor.name, created_at=now)
        record.required = " ".join(scope_set.required)
        record.conditionally_required = " ".join(scope_set.conditionally_required)
        record.optional = " ".join(scope_set.optional)
        record.updated_at = now
        repository.save_scope_set(session=session, record=record)
        audit.record(session, actor=actor.name, action="scope_sets.save", outcome="success",
                     detail=f"{clean}: {len(scope_set.all_names())} scopes")
        session.commit()


def delete_scope_set(ctx: AppContext, name: str, *, actor: Actor) -> None:
    require(ctx.engine, actor, "scopes.save", action="scope_sets.delete")
    with ctx.session() as session:
        if not repository.delete_scope_set(session=session, name=name):
            raise NotFoundError(f"no saved scope set named {name[:MAX_NAME]!r}")
        audit.record(session, actor=actor.name, action="scope_sets.delete", outcome="success", detail=name)
        session.commit()


def app_default_scopes(ctx: AppContext) -> list[str]:
    """The scope set the scope builder starts from: the app's ``scopes`` ([apps.<id>]), else ``oauth``."""
    declared = ctx.apps.get(ctx.app_id).scopes if ctx.apps is not None and ctx.app_id in ctx.apps else ()
    return list(declared) or ["oauth"]


def app_scope_settings(ctx: AppContext) -> ScopeSet | None:
    """The app's own scope settings, for lint: its ``scopes`` ([apps.<id>], as required scopes), else
    ``HUBSPOT_APP_SCOPES_FILE``; None when neither is configured."""
    import json

    from dashboard.errors import ConfigurationError

    declared = ctx.apps.get(ctx.app_id).scopes if ctx.apps is not None and ctx.app_id in ctx.apps else ()
    if declared:
        return ScopeSet.from_lists(required=list(declared))
    path = ctx.settings.hubspot_app_scopes_file
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ScopeSet.from_lists(required=data.get("required", []),
                                   conditionally_required=data.get("conditionally_required", []),
                                   optional=data.get("optional", []))
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigurationError(
            f"HUBSPOT_APP_SCOPES_FILE: cannot read {path} as JSON with required / conditionally_required / "
            f"optional lists ({exc.__class__.__name__})") from None
