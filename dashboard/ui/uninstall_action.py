"""The details panel's "Uninstall from HubSpot account" action: admins only, confirmed by typing the hub id.

Unlike revoking, this removes the app from the customer's account (HubSpot's App uninstalls API) and HubSpot
emails the account's super admins, so the dialog says so before anything happens.
"""

from __future__ import annotations

import streamlit as st

from dashboard.actors import Actor
from dashboard.connections import uninstall
from dashboard.connections.service import Connection
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.ui.app_switcher import production_confirmed
from dashboard.ui.connections_table import clear_selection
from dashboard.ui.feedback import flash

TARGET_KEY = "uninstall_target"
ERROR_KEY = "uninstall_error"


def _open(hub_id: int) -> None:
    """A callback, as the Revoke button's (dashboard/ui/connection_details.py says why)."""
    st.session_state[TARGET_KEY] = hub_id


def _close() -> None:
    st.session_state.pop(TARGET_KEY, None)


def _submit(ctx: AppContext, actor: Actor, hub_id: int) -> None:
    """The confirm button's callback. It runs before the page does, so it may clear the table's selection:
    the portal leaves the default listing, and a selected row position would now mean another portal."""
    try:
        uninstall.uninstall_from_account(ctx, hub_id, actor=actor)
    except DashboardError as exc:
        st.session_state[ERROR_KEY] = str(exc)
        return
    _close()
    clear_selection()
    st.query_params.pop("hub", None)  # the portal leaves the default listing: don't reopen it from the URL
    flash("success", f"Hub {hub_id}: the app was uninstalled from the HubSpot account; the portal is marked "
                     "uninstalled (filter by status to see it).")


@st.dialog("Uninstall from HubSpot account", on_dismiss=_close)
def uninstall_dialog(ctx: AppContext, actor: Actor, hub_id: int) -> None:
    if st.session_state.get(TARGET_KEY) != hub_id:
        # The confirm button's callback finished (a click inside a dialog reruns only the dialog): redraw the
        # whole page, without the dialog, so the table and the confirmation show the new state.
        st.rerun()
    st.write(f"This uninstalls the app from HubSpot account **{hub_id}**: HubSpot removes it from the account, "
             "its tokens stop working and HubSpot emails the account's super admins. The portal stays here, "
             "marked uninstalled, for the audit trail. Reconnecting needs a new install by the account's admin.")
    typed = st.text_input("Type the hub id to confirm", key="uninstall_confirm")
    confirmed = production_confirmed(ctx, key="uninstall_confirm_app")
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.error(error)
    left, right = st.columns(2)
    if left.button("Cancel", key="uninstall_cancel"):
        _close()
        st.rerun()
    ready = typed.strip() == str(hub_id) and confirmed
    right.button("Uninstall", key="uninstall_submit", type="primary", disabled=not ready, on_click=_submit,
                 args=(ctx, actor, hub_id))


def uninstall_action(ctx: AppContext, actor: Actor, conn: Connection) -> None:
    """The button (admins only, while the portal holds tokens) and, once pressed, the dialog."""
    if not actor.can("revoke") or conn.status in ("revoked", "uninstalled"):
        return
    st.button("Uninstall from HubSpot account…", key="conn_uninstall", on_click=_open, args=(conn.hub_id,),
              help="Remove the app from the customer's HubSpot account (HubSpot emails its super admins)")
    if st.session_state.get(TARGET_KEY) == conn.hub_id:
        uninstall_dialog(ctx, actor, conn.hub_id)
