"""The Scope builder page's pieces: catalog table, the three scope pickers, lint lines, URL preview, diff."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.hubspot.authorize import authorize_url_parts
from dashboard.scopes import formats as scope_json
from dashboard.scopes.catalog import BUCKETS, ScopeCatalog, ScopeSet, is_tier_gated
from dashboard.scopes.lint import LintFinding, ScopeDiff
from dashboard.ui.text import code, md

PICKER_KEYS = {"required": "sb_required", "conditionally_required": "sb_conditional", "optional": "sb_optional"}
APP_KEY = "sb_app"  # the app whose scope set the pickers hold
PICKER_LABELS = {"required": "Required", "conditionally_required": "Conditionally required", "optional": "Optional"}
ADD_KEYS = {"required": "sb_add_required", "conditionally_required": "sb_add_conditional",
            "optional": "sb_add_optional"}
ADD_ERROR_KEY = "sb_add_error"
STATE_PLACEHOLDER = "STATE"


def catalog_frame(catalog: ScopeCatalog, search: str, groups: list[str]) -> pd.DataFrame:
    """Catalog rows matching the search (best first) and the chosen groups."""
    hits = [s for s in catalog.search(search) if not groups or s.group in groups]
    return pd.DataFrame({
        "scope": [s.name for s in hits], "group": [s.group for s in hits],
        "description": [s.description or "" for s in hits],
        "tier": [s.tier_requirement or "not documented" for s in hits],
        "tier gated": [is_tier_gated(s) for s in hits], "sensitive": [s.sensitive for s in hits],
    })


def catalog_columns(catalog: ScopeCatalog) -> dict[str, ColumnConfig]:
    """The catalog table's columns: the scope column as wide as the longest name (whole names at 1280 px)."""
    longest = max((len(n) for n in catalog.names()), default=20)
    return {"scope": st.column_config.TextColumn("scope", width=longest * 8 + 24),
            "group": st.column_config.TextColumn("group", width="medium"),
            "description": st.column_config.TextColumn("description", width="large")}


def add_typed_scope(catalog: ScopeCatalog, bucket: str) -> None:
    """Enter in an "add" box: the typed scope, exactly, or nothing (with the reason and close names).

    The pickers filter as you type (any part of the name); this box is for a name known by heart: Enter adds
    exactly it, never the first of several matches."""
    box = ADD_KEYS[bucket]
    typed = str(st.session_state.get(box, "")).strip()
    st.session_state[box] = ""
    if not typed:
        return
    name = typed if typed in catalog else typed.lower()
    if name not in catalog:
        close = difflib.get_close_matches(typed.lower(), catalog.names(), n=3, cutoff=0.8)
        st.session_state[ADD_ERROR_KEY] = (bucket, typed, close)
        return
    st.session_state.pop(ADD_ERROR_KEY, None)
    key = PICKER_KEYS[bucket]
    current = list(st.session_state.get(key, []))
    if name not in current:
        st.session_state[key] = [*current, name]


def pickers(catalog: ScopeCatalog, default: Sequence[str] = ("oauth",), *, app: str = "") -> dict[str, list[str]]:
    """One full-width, wrapping multiselect per bucket (every chosen scope readable; pick from the list or
    remove), and an "add" box beside it where Enter adds exactly the typed scope or nothing. ``default``: the
    required scopes to start from (the selected app's scope set); switching ``app`` starts from its set."""
    if st.session_state.get(APP_KEY, app) != app:
        for key in PICKER_KEYS.values():
            st.session_state.pop(key, None)
    st.session_state[APP_KEY] = app
    st.session_state.setdefault(PICKER_KEYS["required"], list(default))
    chosen: dict[str, list[str]] = {}
    failed = st.session_state.get(ADD_ERROR_KEY)
    for bucket in BUCKETS:
        key = PICKER_KEYS[bucket]
        extra = [n for n in st.session_state.get(key, []) if n not in catalog]
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        # "contains": typing "contacts" lists every scope with it anywhere in the name. No "Select N
        # matches" entry: one keystroke must never add a batch (some matches are Sensitive Data scopes).
        chosen[bucket] = left.multiselect(PICKER_LABELS[bucket], [*catalog.names(), *extra], key=key,
                                          filter_mode="contains", select_all=False, wrap=True,
                                          placeholder="type to filter, e.g. contacts")
        right.text_input(f"Add to {PICKER_LABELS[bucket].lower()}", key=ADD_KEYS[bucket],
                         placeholder="exact scope name", on_change=add_typed_scope, args=(catalog, bucket))
        if failed and failed[0] == bucket:
            close = ", ".join(failed[2]) or "none"
            st.error(f"No scope is named {md(failed[1][:100])}: nothing was added. "
                     f"Close names: {md(close)}.")
    return chosen


def load_into_pickers(scope_set: ScopeSet) -> None:
    """Put a saved set into the pickers (call from a callback, before the widgets are drawn)."""
    for bucket in BUCKETS:
        st.session_state[PICKER_KEYS[bucket]] = list(scope_set.bucket(bucket))


def show_findings(findings: list[LintFinding]) -> None:
    if not findings:
        st.success("No lint findings: HubSpot should accept this scope set.")
    for finding in findings:
        {"error": st.error, "warning": st.warning, "info": st.info}[finding.level](
            f"{md(finding.message)} ({finding.code})")


def preview_url(ctx: AppContext, scope_set: ScopeSet, account_id: int | None = None) -> str:
    """The encoded authorize URL for ``scope_set`` with the app's values and the placeholder state."""
    return ctx.authorize_url(scope_set, state=STATE_PLACEHOLDER, account_id=account_id)


def show_url(url: str) -> None:
    st.container(key="sb_url_parts").dataframe(
        pd.DataFrame(authorize_url_parts(url), columns=["parameter", "decoded value"]), hide_index=True,
        width="stretch")
    st.code(url, language=None, wrap_lines=True)


def show_diff(name_a: str, name_b: str, change: ScopeDiff) -> None:
    if not change:
        st.info(f"{md(name_a)} and {md(name_b)} ask for exactly the same scopes.")
        return
    lines = []
    for bucket in BUCKETS:
        lines += [f"- added to {PICKER_LABELS[bucket].lower()}: {code(n)}" for n in change.added[bucket]]
        lines += [f"- removed from {PICKER_LABELS[bucket].lower()}: {code(n)}" for n in change.removed[bucket]]
    lines += [f"- moved {code(m.scope)}: {PICKER_LABELS[m.source].lower()} → {PICKER_LABELS[m.target].lower()}"
              for m in change.moved]
    st.markdown(f"From **{md(name_a)}** to **{md(name_b)}**:\n" + "\n".join(lines))


SHARED_KEY = "sb_shared_loaded"
IMPORT_KEY = "sb_import_json"


def load_shared_link() -> None:
    """A link carrying a scope set (``/scopes?required=oauth+tickets&optional=automation``) fills the pickers
    once per session, before they are drawn."""
    if st.session_state.get(SHARED_KEY):
        return
    st.session_state[SHARED_KEY] = True
    try:
        shared = scope_json.from_query({b: st.query_params.get(b, "") for b in BUCKETS})
    except DashboardError as exc:
        st.error(f"The link's scope set was not loaded: {md(str(exc))}")
        return
    if shared is not None:
        load_into_pickers(shared)


def _import_json() -> None:
    try:
        load_into_pickers(scope_json.from_json(str(st.session_state.get(IMPORT_KEY, ""))))
    except DashboardError as exc:
        st.session_state[ADD_ERROR_KEY + "_json"] = str(exc)
    else:
        st.session_state.pop(ADD_ERROR_KEY + "_json", None)


def share_and_json(scope_set: ScopeSet) -> None:
    """The current set in the URL (copy the address bar to share it) and as HubSpot's JSON, both ways."""
    for bucket in BUCKETS:
        st.query_params.pop(bucket, None)
    st.query_params.update(scope_json.to_query(scope_set))
    with st.expander("Share, export or import (JSON)"):
        st.caption("The address bar now holds this set: copy it to share. As JSON:")
        st.code(scope_json.to_json(scope_set), language="json")
        st.text_area("Import JSON", key=IMPORT_KEY, height=120,
                     placeholder='{"required": ["oauth"], "conditionally_required": [], "optional": []}')
        st.button("Import into the pickers", key="sb_import", on_click=_import_json)
        failed = st.session_state.get(ADD_ERROR_KEY + "_json")
        if failed:
            st.error(f"Not imported: {md(failed)}")
