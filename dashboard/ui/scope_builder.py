"""The Scope builder page's pieces: catalog table, the three scope pickers, lint lines, URL preview, diff."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.context import AppContext
from dashboard.hubspot.authorize import authorize_url_parts, build_authorize_url
from dashboard.scope_lint import LintFinding, ScopeDiff
from dashboard.scopes import BUCKETS, ScopeCatalog, ScopeSet, is_tier_gated
from dashboard.ui.text import code, md

PICKER_KEYS = {"required": "sb_required", "conditionally_required": "sb_conditional", "optional": "sb_optional"}
PICKER_LABELS = {"required": "Required", "conditionally_required": "Conditionally required", "optional": "Optional"}
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


def pickers(catalog: ScopeCatalog) -> dict[str, list[str]]:
    """Three keyed multiselects; names outside the catalog may be typed (the linter flags them)."""
    st.session_state.setdefault(PICKER_KEYS["required"], ["oauth"])
    chosen: dict[str, list[str]] = {}
    for column, bucket in zip(st.columns(3), BUCKETS, strict=True):
        key = PICKER_KEYS[bucket]
        extra = [n for n in st.session_state.get(key, []) if n not in catalog]
        chosen[bucket] = column.multiselect(PICKER_LABELS[bucket], [*catalog.names(), *extra], key=key,
                                            accept_new_options=True, placeholder="add scopes")
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
    return build_authorize_url(app_base_url=ctx.app.app_base_url, client_id=ctx.app.client_id,
                               redirect_uri=ctx.app.redirect_uri, scopes=scope_set.scope_param(),
                               optional_scopes=scope_set.optional_param(), state=STATE_PLACEHOLDER,
                               account_id=account_id)


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
