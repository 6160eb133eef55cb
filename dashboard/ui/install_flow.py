"""The New install page's pieces: the OAuth callback (once per state) and the result panel.

HubSpot redirects the browser back to ``/install?code=...&state=...`` in a *new* Streamlit session, so the
pending install lives in the database (see :mod:`dashboard.installs.flow`). The callback is processed once: its
result is kept in ``st.session_state`` and the query parameters are cleared, so a rerun never sends the
same code to HubSpot twice.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from dashboard.actors import Actor
from dashboard.connections.link_preview import LinkPreview, preview_link
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.hubspot.authorize import parse_account_id
from dashboard.installs import flow as install
from dashboard.installs.flow import InstallResult
from dashboard.installs.scope_sets import app_scope_settings
from dashboard.scopes.catalog import ScopeSet
from dashboard.ui.text import code_or_text, md

RESULT_KEY = "install_result"
DONE_KEY = "install_done_states"
LINK_KEY = "install_link"
CALLBACK_PARAMS = ("code", "state", "error", "error_description")
TOUCHED_KEY = "install_form_touched"


def touch_form() -> None:
    """on_change of the link form's fields: the user is building a link in this session."""
    st.session_state[TOUCHED_KEY] = True


def form_in_use() -> bool:
    """False right after HubSpot's redirect brought the user back (a new session, the form at its defaults):
    warnings about "this link" would then be about a form the user has just left."""
    return bool(st.session_state.get(TOUCHED_KEY)) or RESULT_KEY not in st.session_state


def handle_callback(ctx: AppContext, actor: Actor) -> None:
    """Complete the install named by the query parameters, if any, then clear them."""
    params: dict[str, Any] = {k: st.query_params.get(k) for k in CALLBACK_PARAMS if k in st.query_params}
    if not params.keys() & {"code", "state", "error"}:
        return
    st.query_params.clear()
    marker = params.get("state") or params.get("code") or ""
    done: list[str] = st.session_state.setdefault(DONE_KEY, [])
    if marker in done:  # the same redirect seen again on a rerun: keep the first result
        return
    done.append(marker)
    with st.spinner("Completing the install with HubSpot…"):
        try:
            st.session_state[RESULT_KEY] = install.finish_install(ctx, actor=actor, params=params)
        except DashboardError as exc:
            st.session_state[RESULT_KEY] = str(exc)


def show_result() -> None:
    """The outcome of the last callback (kept until dismissed)."""
    result: InstallResult | str | None = st.session_state.get(RESULT_KEY)
    if result is None:
        return
    if isinstance(result, str):
        st.error(f"The install did not complete: {md(result)}")
    else:
        verb = "Reinstalled" if result.reinstall else "Installed"
        st.success(f"{verb} hub {result.hub_id} ({md(result.hub_domain or 'unknown domain')}) with "
                   f"{len(result.granted_scopes)} granted scope{'' if len(result.granted_scopes) == 1 else 's'}.")
        st.markdown("**Granted scopes:** " + (", ".join(code_or_text(s) for s in result.granted_scopes) or "none"))
        if result.dropped_optional_scopes:
            st.warning("Optional scopes not granted (the account's tier or the user declined): "
                       + md(", ".join(result.dropped_optional_scopes)))
        if result.reinstall:
            st.info(f"Scope change since the previous install: added {md(', '.join(result.added_scopes) or 'none')}; "
                    f"removed {md(', '.join(result.removed_scopes) or 'none')}.")
    if st.button("Dismiss", key="install_dismiss"):
        st.session_state.pop(RESULT_KEY, None)
        st.rerun()


def split_scopes(text: str) -> list[str]:
    """Scope names typed with spaces, commas or new lines between them."""
    return [s for s in re.split(r"[\s,]+", text) if s]


def apply_saved_set(sets: dict[str, ScopeSet]) -> None:
    """Callback of the saved-set picker: copy the set into the scope text areas (still editable)."""
    touch_form()
    chosen = sets.get(st.session_state.get("install_set") or "")
    if chosen is not None:
        st.session_state["install_scopes"] = " ".join(chosen.scope_param())
        st.session_state["install_optional"] = " ".join(chosen.optional_param())


def preview(ctx: AppContext, actor: Actor, scopes_text: str, optional_text: str, account_text: str) -> LinkPreview:
    scope_set = ScopeSet.from_lists(required=split_scopes(scopes_text), optional=split_scopes(optional_text))
    return preview_link(ctx, actor=actor, scope_set=scope_set, account_id=parse_account_id(account_text),
                        app_scopes=app_scope_settings(ctx))


def show_preview(found: LinkPreview) -> bool:
    """Lint errors and warnings, and the scopes a connected portal would lose: True when the link must not be
    created yet (an error, or a loss not confirmed). Scope names are shown in tables, never as Markdown."""
    for finding in found.findings:
        if finding.level != "info":
            {"error": st.error, "warning": st.warning}[finding.level](f"{finding.message} ({finding.code})")
    change = found.change
    if change is not None:
        rows = ([("loses", s) for s in change.lost] + [("gains", s) for s in change.gained]
                + [("may gain (optional)", s) for s in change.maybe_gained])
        if rows:
            st.markdown(f"**Reinstall preview for hub {change.hub_id}** (already connected):")
            st.container(key="install_preview").dataframe(
                {"change": [r[0] for r in rows], "scope": [r[1] for r in rows]}, hide_index=True, width="content")
        else:
            st.caption(f"Hub {change.hub_id} is already connected; this link keeps its scopes as they are.")
        if change.lost and not st.checkbox(f"Reinstall hub {change.hub_id} without the {len(change.lost)} "
                                           "scopes above", key="install_accept_loss"):
            st.warning(f"Installing this link would remove {len(change.lost)} scopes hub {change.hub_id} has now. "
                       "Add them to the set, or confirm.")
            return True
    elif found.portals_losing and form_in_use():
        sample = ", ".join(str(h) for h in found.losing_sample)
        st.warning(f"If a link with the scopes above is used on an already connected portal it replaces that "
                   f"portal's scopes: {found.portals_losing} connected portals have scopes it does not ask for "
                   f"(hub {sample}…). Pin the link to an account id to see one portal's change.")
    return bool(found.errors)
