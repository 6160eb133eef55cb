"""Settings → Lifecycle webhooks: admins add an endpoint (its secret shown once), list, rotate and remove
endpoints, send a test, and see the deliveries (status, attempts, last answer, next attempt) with a redeliver
button. Everything foreign (a receiver's answer, a description) is shown in dataframe cells, never Markdown."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.ui.feedback import flash, run_and_flash
from dashboard.webhooks import endpoints, events

SHOW_ONCE = "_webhook_secret_shown"


def _add(ctx: AppContext, actor: Actor) -> None:
    with st.form("webhook_form", clear_on_submit=True):
        url = st.text_input("Endpoint URL (https://, a public address)", key="webhook_url", max_chars=2000)
        types = st.multiselect("Event types (none: every type)", events.EVENT_TYPES, key="webhook_events")
        description = st.text_input("Description", key="webhook_description", max_chars=500)
        if not st.form_submit_button("Add endpoint"):
            return
    try:
        created = endpoints.add_endpoint(ctx, actor=actor, url=url, event_types=types, description=description)
    except DashboardError as exc:
        st.error(str(exc))
        return
    st.session_state[SHOW_ONCE] = (f"Endpoint {created.endpoint.id} added", created.secret)
    st.rerun()


def _endpoint_actions(ctx: AppContext, actor: Actor, ids: list[int]) -> None:
    left, a, b, c = st.columns([3, 1, 1, 1])
    chosen = left.selectbox("Endpoint", ids, key="webhook_endpoint_id", index=None, placeholder="choose an endpoint")
    try:
        if a.button("Send test", key="webhook_test", disabled=chosen is None) and chosen is not None:
            endpoints.send_test(ctx, actor=actor, endpoint_id=chosen)
            flash("success", f"webhook.test queued for endpoint {chosen}; a worker sends it within seconds.")
            st.rerun()
        if b.button("Rotate secret", key="webhook_rotate", disabled=chosen is None) and chosen is not None:
            rotated = endpoints.rotate_secret(ctx, actor=actor, endpoint_id=chosen)
            st.session_state[SHOW_ONCE] = (f"Endpoint {chosen}: new secret (the previous one also signs for 24 h)",
                                           rotated.secret)
            st.rerun()
        if c.button("Remove", key="webhook_remove", disabled=chosen is None) and chosen is not None:
            endpoints.remove_endpoint(ctx, actor=actor, endpoint_id=chosen)
            flash("success", f"Endpoint {chosen} removed.")
            st.rerun()
    except DashboardError as exc:
        st.error(str(exc))


def _deliveries(ctx: AppContext, actor: Actor) -> None:
    status = st.selectbox("Deliveries", ("all", *endpoints.DELIVERY_STATUSES), key="webhook_delivery_status")
    rows = endpoints.list_deliveries(ctx, actor=actor, status=None if status == "all" else status, limit=200)
    if not rows:
        st.caption("No deliveries yet.")
        return
    st.container(key="webhook_deliveries_table").dataframe(pd.DataFrame({
        "delivery": [r.id for r in rows], "endpoint": [r.endpoint_id for r in rows],
        "event": [r.event_type for r in rows], "hub id": [r.hub_id or None for r in rows],
        "status": [r.status for r in rows], "attempts": [r.attempts for r in rows],
        "last HTTP status": [r.last_status_code for r in rows], "last error": [r.last_error or "" for r in rows],
        "answer (1 KB)": [r.last_response or "" for r in rows],
        "next attempt": [r.next_attempt_at if r.status == "pending" else None for r in rows],
        "created": [r.created_at for r in rows],
    }), hide_index=True, width="stretch")
    left, right = st.columns([3, 1])
    chosen = left.selectbox("Redeliver", [r.id for r in rows], key="webhook_redeliver_id", index=None,
                            placeholder="choose a delivery")
    if right.button("Redeliver", key="webhook_redeliver", disabled=chosen is None) and chosen is not None:
        run_and_flash(f"Queueing delivery {chosen} again…",
                      lambda: endpoints.redeliver(ctx, actor=actor, delivery_id=chosen),
                      lambda _: ("success", f"Delivery {chosen} queued again."))


def webhooks_section(ctx: AppContext, actor: Actor) -> None:
    if not actor.can("settings"):
        st.caption("Only admins manage webhook endpoints.")
        return
    shown = st.session_state.pop(SHOW_ONCE, None)  # this run only: a reload hides it for good
    if shown is not None:
        st.success(f"{shown[0]}. Copy the signing secret now: it is not shown again.")
        st.code(shown[1], language=None)
    try:
        rows = endpoints.list_endpoints(ctx, actor=actor)
    except DashboardError as exc:
        st.error(str(exc))
        return
    if rows:
        st.container(key="webhook_endpoints_table").dataframe(pd.DataFrame({
            "id": [e.id for e in rows], "url": [e.shown_url for e in rows],
            "events": [" ".join(e.event_types) or "all" for e in rows],
            "description": [e.description for e in rows], "created by": [e.created_by for e in rows],
            "previous secret valid until": [e.rotating_until for e in rows],
        }), hide_index=True, width="stretch")
        _endpoint_actions(ctx, actor, [e.id for e in rows])
    else:
        st.caption("No webhook endpoints yet.")
    _add(ctx, actor)
    try:
        _deliveries(ctx, actor)
    except DashboardError as exc:
        st.error(str(exc))
