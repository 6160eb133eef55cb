"""One portal's details and actions: scopes, token metadata, health check, refresh, re-consent, revoke.

Never shows a token: token metadata comes from introspection, and only the stored short fingerprint is
printed. Revoking needs the hub id typed into a dialog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import status
from dashboard.actors import Actor
from dashboard.connections import activity
from dashboard.connections import service as connections
from dashboard.connections.service import Connection
from dashboard.context import AppContext
from dashboard.errors import DashboardError, PermissionDeniedError
from dashboard.installs import links as install_links
from dashboard.refresh import service as refresh
from dashboard.refresh.service import RefreshOutcome
from dashboard.scopes.catalog import load_catalog
from dashboard.scopes.reasons import missing_scopes
from dashboard.ui import portal_health
from dashboard.ui.api_console import api_panel
from dashboard.ui.app_switcher import production_confirmed
from dashboard.ui.connections_table import reset_selection_later
from dashboard.ui.feedback import Level, flash, run_action, run_and_flash
from dashboard.ui.text import md
from dashboard.ui.uninstall_action import uninstall_action

ButtonKind = Literal["primary", "secondary"]
REVOKE_TARGET_KEY = "revoke_target"
RECONSENT_KEY = "conn_reconsent_link"


def refresh_message(outcome: RefreshOutcome) -> tuple[Level, str]:
    """One line per refresh outcome, in the colour it deserves."""
    hub = outcome.hub_id
    if outcome.result == "refreshed":
        when = f"; the new access token expires {outcome.expires_at:%H:%M:%S} UTC" if outcome.expires_at else ""
        return "success", f"Hub {hub}: refreshed{when}."
    if outcome.result == "fresh":
        return "info", f"Hub {hub}: {outcome.message}."
    if outcome.result in ("busy", "skipped", "conflict", "journaled"):
        return "warning", f"Hub {hub}: {outcome.message}."
    return "error", f"Hub {hub}: refresh failed ({outcome.result}): {outcome.message}"


def refresh_many_message(outcomes: Sequence[RefreshOutcome]) -> tuple[Level, str]:
    ok = sum(o.result in ("refreshed", "fresh") for o in outcomes)
    failed = [o for o in outcomes if o.result not in ("refreshed", "fresh")]
    if not failed:
        return "success", f"Refreshed {ok} of {len(outcomes)} selected portals."
    names = ", ".join(f"{o.hub_id} ({o.result})" for o in failed[:10])
    return "warning", f"Refreshed {ok} of {len(outcomes)}; not refreshed: {names}."


def refresh_selected(ctx: AppContext, actor: Actor, hub_ids: Sequence[int]) -> None:
    """Force-refresh each selected portal, one at a time, with progress.

    A refusal by role ends the run with that reason: every other portal would be refused (and audited as
    denied) the same way, and "0 of n (failed)" would hide why.
    """
    outcomes: list[RefreshOutcome] = []
    with st.status(f"Refreshing {len(hub_ids)} portal{'' if len(hub_ids) == 1 else 's'}…", expanded=False) as status:
        for hub_id in hub_ids:
            try:
                outcomes.append(refresh.refresh_portal(ctx, hub_id, actor=actor, force=True))
            except PermissionDeniedError as exc:
                status.update(label="Refresh not allowed", state="error")
                flash("error", f"Not refreshed: not allowed for your role ({actor.role}). {exc}.")
                st.rerun()
            except DashboardError as exc:
                outcomes.append(RefreshOutcome(hub_id, "failed", message=str(exc)))
            status.write(refresh_message(outcomes[-1])[1])
        status.update(label="Refresh finished", state="complete")
    flash(*refresh_many_message(outcomes))
    st.rerun()


def _open_revoke(hub_id: int) -> None:
    st.session_state[REVOKE_TARGET_KEY] = hub_id


def _close_revoke() -> None:
    st.session_state.pop(REVOKE_TARGET_KEY, None)


@st.dialog("Revoke connection", on_dismiss=_close_revoke)
def revoke_dialog(ctx: AppContext, actor: Actor, hub_id: int) -> None:
    st.write(f"This revokes hub **{hub_id}**'s refresh token at HubSpot and erases its stored tokens. "
             "The portal has to be installed again to reconnect.")
    typed = st.text_input("Type the hub id to confirm", key="revoke_confirm")
    confirmed = production_confirmed(ctx, key="revoke_confirm_app")
    left, right = st.columns(2)
    if left.button("Cancel", key="revoke_cancel"):
        _close_revoke()
        st.rerun()
    ready = typed.strip() == str(hub_id) and confirmed
    if right.button("Revoke", key="revoke_submit", type="primary", disabled=not ready):
        with st.spinner(f"Revoking hub {hub_id}…"):
            try:
                connections.revoke(ctx, hub_id, actor=actor)
            except DashboardError as exc:
                st.error(md(exc))
                return
        _close_revoke()
        reset_selection_later()  # "Refresh selected" must not count a portal that has no tokens any more
        flash("success", f"Hub {hub_id} revoked: HubSpot no longer accepts its tokens and they were erased here.")
        st.rerun()


def primary_action(code: str) -> str | None:
    """The one coloured button: what the status banner tells you to do (revoke never is)."""
    if code == "needs_reauth":
        return "reconsent"
    if code in ("refresh_failing", "expired", "expiring"):
        return "refresh"
    if code == "healthy":
        return "test"
    return None


def scopes_frame(conn: Connection) -> pd.DataFrame:
    names = sorted(set(conn.requested_scopes) | set(conn.requested_optional_scopes) | set(conn.granted_scopes))
    asked = {s: "optional" for s in conn.requested_optional_scopes}
    asked.update({s: "required" for s in conn.requested_scopes})
    return pd.DataFrame({"scope": names, "requested": [asked.get(s, "—") for s in names],
                         "granted": [s in conn.granted_scopes for s in names]})


def _metadata(ctx: AppContext, actor: Actor, conn: Connection) -> None:
    info = run_action("Asking HubSpot about the access token…",
                      lambda: connections.token_metadata(ctx, conn.hub_id, actor=actor))
    if info is not None:
        fields = {"active": info.active, "hub id": info.hub_id, "hub domain": info.hub_domain,
                  "app id": info.app_id, "user": info.user, "user id": info.user_id,
                  "scopes": " ".join(info.scopes), "expires in (s)": info.expires_in,
                  "token fingerprint": conn.token_fingerprint or "—"}
        st.container(key="conn_meta_table").dataframe(
            pd.DataFrame({"field": list(fields), "value": [str(v) for v in fields.values()]}), hide_index=True)
        st.success("Token metadata loaded (the token itself is never shown).")


def _reconsent(ctx: AppContext, actor: Actor, conn: Connection) -> None:
    """A sendable link pinned to the portal's account, asking for what it was asked (``install_links``)."""
    url = run_action("Creating a re-consent link…", lambda: install_links.create_reconsent_link(
        ctx, actor=actor, hub_id=conn.hub_id).url)
    if url is not None:
        st.session_state[RECONSENT_KEY] = (conn.hub_id, url)


def _test(ctx: AppContext, actor: Actor, conn: Connection, where: DeltaGenerator) -> None:
    """The result next to the button; it names the portal's own domain and says when it disagrees with the
    stored status (a token that works now while the last refresh failed)."""
    report = run_action("Testing the connection…", lambda: connections.test_connection(ctx, conn.hub_id, actor=actor))
    if report is None:
        return
    domain = md(report.portal_name or conn.hub_domain or "unknown domain")
    if report.healthy and status.is_problem(conn.status):
        where.warning(f"The access token works now (portal {domain}), but the stored status is "
                      f"{status.label(conn.status)}: {md(status.what_to_do(conn.status) or '')}")
    elif report.healthy:
        where.success(f"Connection healthy: {md(report.reason)} (portal {domain}).")
    else:
        where.error(f"Connection unhealthy: {md(report.reason)}")


def reasons_frame(conn: Connection) -> pd.DataFrame:
    found = missing_scopes(requested=conn.requested_scopes, optional=conn.requested_optional_scopes,
                           granted=conn.granted_scopes, catalog=load_catalog())
    return pd.DataFrame({"scope": [m.scope for m in found], "asked as": [m.asked_as for m in found],
                         "why not granted": [m.reason for m in found],
                         "re-consent can help": [m.reconsent_helps for m in found]})


def details(ctx: AppContext, actor: Actor, conn: Connection) -> None:
    """The details panel of one portal."""
    st.header(f"Hub {conn.hub_id} · {md(conn.hub_domain or 'unknown domain')}")
    installed = (f" · installed by {md(conn.installed_by or '—')} at {conn.installed_at:%Y-%m-%d %H:%M}"
                 f" UTC · token fingerprint {conn.token_fingerprint or '—'}" if conn.installed_at else "")
    st.markdown(f":{status.colour(conn.status)}[**{status.label(conn.status)}**]{installed}")
    todo = status.what_to_do(conn.status)
    if todo:
        st.error(md(todo), icon="🛠️")
    if conn.last_error:
        st.warning(f"Last error ({conn.consecutive_failures} in a row): {md(conn.last_error)}")
    reasons = reasons_frame(conn)
    needs_consent = conn.status == "needs_reauth" or bool(reasons["re-consent can help"].any())
    primary = primary_action(conn.status)
    gone = conn.status in ("revoked", "uninstalled")

    def kind(action: str) -> ButtonKind:
        return "primary" if action == primary else "secondary"

    b1, b2, b3, b4, b5 = st.columns(5)
    do_refresh = b1.button("Refresh now", key="conn_refresh", type=kind("refresh"), disabled=gone)
    do_test = b2.button("Test connection", key="conn_test", type=kind("test"), disabled=gone)
    do_meta = b3.button("Token metadata", key="conn_meta", disabled=gone)
    if needs_consent and b4.button("Send re-consent link", key="conn_reconsent", type=kind("reconsent"),
                                   help="A single-use link asking this portal's admin to authorize the app again"):
        _reconsent(ctx, actor, conn)
    # A callback, not the button's return value: that is lost when the table's fragment reruns the page in
    # the click's run (the browser's table selection lagging the one restored from ?hub=); a callback has run.
    b5.button("Revoke…", key="conn_revoke", disabled=gone, help="Asks you to type the hub id first",
              on_click=_open_revoke, args=(conn.hub_id,))
    near = st.container()  # results of the buttons above, next to them
    if do_refresh:
        run_and_flash(f"Refreshing hub {conn.hub_id}…",
                      lambda: refresh.refresh_portal(ctx, conn.hub_id, actor=actor, force=True), refresh_message)
    if do_test:
        _test(ctx, actor, conn, near)
    if do_meta:
        _metadata(ctx, actor, conn)
    if st.session_state.get(REVOKE_TARGET_KEY) == conn.hub_id:
        revoke_dialog(ctx, actor, conn.hub_id)
    uninstall_action(ctx, actor, conn)
    reconsent = st.session_state.get(RECONSENT_KEY)
    if reconsent is not None and reconsent[0] == conn.hub_id:
        st.link_button(f"Open the re-consent page for hub {conn.hub_id}", reconsent[1], key="conn_reconsent_open")
        st.code(reconsent[1], language=None, wrap_lines=True)
        st.caption(f"Send it to the account's HubSpot admin: it works once, for this account only, for "
                   f"{ctx.settings.dashboard_link_ttl_days:g} days, without a dashboard account.")
    api_panel(ctx, actor, conn.hub_id)
    if len(reasons):
        st.markdown("**Requested scopes not granted**")
        st.container(key="conn_reasons").dataframe(reasons, hide_index=True, width="stretch")
    left, right = st.columns(2)
    left.markdown("**Requested vs granted scopes**")
    left.container(key="conn_scopes_table").dataframe(
        scopes_frame(conn), hide_index=True, column_config={"granted": st.column_config.CheckboxColumn("granted")})
    portal_health.show(ctx, actor, conn.hub_id)  # uptime, state strip, timeline (dashboard/ui/portal_health.py)
    right.markdown("**Audit history**")
    events = run_action("Loading history…", lambda: activity.audit_events(ctx, actor=actor, hub_id=conn.hub_id,
                                                                           limit=100))
    if events is not None:
        right.container(key="conn_history_table").dataframe(pd.DataFrame({
            "at": [e.at for e in events], "actor": [e.actor for e in events], "action": [e.action for e in events],
            "outcome": [e.outcome for e in events], "detail": [e.detail for e in events]}), hide_index=True)
