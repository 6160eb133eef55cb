"""Typed names stay in step with what they name, and services never act as anyone by default (issue 15)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import get_args, get_type_hints

import dashboard
from dashboard import actors, models, status
from dashboard.models import Portal, PortalStatus, PortalUpdate
from dashboard.refresh.store import REFRESH_RESULTS, RefreshOutcome


def test_portal_update_names_every_column_but_the_key() -> None:
    columns = {c.name for c in Portal.__table__.columns}  # type: ignore[attr-defined]
    assert set(PortalUpdate.__annotations__) == columns - {"app", "hub_id"}  # the identity never changes
    assert PortalUpdate.__total__ is False


def test_statuses_are_their_own_text() -> None:
    assert tuple(s.value for s in status.DisplayStatus) == status.STATUSES
    assert all(type(s) is str for s in status.STATUSES)  # widget options and JSON get plain text
    # every stored status but active is shown as itself
    assert {s.value for s in PortalStatus} - {"active"} <= set(status.STATUSES)
    assert f"{PortalStatus.REVOKED}" == "revoked" and PortalStatus("needs_reauth") is PortalStatus.NEEDS_REAUTH


def test_every_permission_has_a_role_and_every_result_is_named() -> None:
    assert set(get_args(actors.Permission)) == set(actors.PERMISSIONS)
    assert set(actors.PERMISSIONS.values()) <= set(actors.Role)
    assert actors.ROLES == ("viewer", "operator", "admin")
    hints = get_type_hints(RefreshOutcome)
    assert set(get_args(hints["result"])) == set(REFRESH_RESULTS)


def _functions() -> list[tuple[str, object]]:
    found = []
    for info in pkgutil.walk_packages(dashboard.__path__, "dashboard."):
        if info.name.startswith(("dashboard.sandbox", "dashboard.migrations", "dashboard.ui", "dashboard.web")) \
                or info.name.endswith("__main__"):
            continue  # Streamlit modules and the server are not imported bare; the sandbox has no actors
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != info.name:
                continue
            if inspect.isfunction(obj):
                found.append((f"{info.name}.{name}", obj))
            elif inspect.isclass(obj):
                found += [(f"{info.name}.{name}.{m}", f) for m, f in vars(obj).items() if inspect.isfunction(f)]
    return found


# The services pages and the CLI call; their public functions take the acting user as ``actor=``.
SERVICES = ("connections.activity", "admin.api_keys", "connections.service", "connections.export", "installs.flow",
            "installs.links", "admin.keys", "connections.link_preview", "connections.listing", "installs.pending",
            "refresh.service", "installs.scope_sets", "admin.sign_outs", "tokens.service", "connections.uninstall",
            "refresh.worker")


def test_no_service_acts_as_anyone_by_default() -> None:
    keyword_only = 0
    for qualname, fn in _functions():
        param = inspect.signature(fn).parameters.get("actor")  # type: ignore[arg-type]
        if param is None or qualname.startswith("dashboard.repository."):  # there: a filter on stored names
            continue
        assert param.default is inspect.Parameter.empty, f"{qualname}: actor has a default"
        service = next((m for m in SERVICES if qualname.startswith(f"dashboard.{m}.")), None)
        rest = qualname.removeprefix(f"dashboard.{service}.").split(".")
        if service is not None and not any(part.startswith("_") for part in rest):
            assert param.kind is inspect.Parameter.KEYWORD_ONLY, f"{qualname}: actor must be a keyword"
            keyword_only += 1
    assert keyword_only >= 25
    assert not hasattr(actors, "SYSTEM") and models.PortalStatus is PortalStatus
