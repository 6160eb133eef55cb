"""A portal's API usage (calls over time, error rate against HubSpot's 5 % line) and the API console.

Called from the portal's details with one line (``api_panel(ctx, actor, hub_id)``). Operators send GET
(path + query) through the proxy; admins may send other methods after typing the hub id. HubSpot's answer
is shown as data (``st.json``, collapsed) and its lines can be searched; nothing foreign becomes Markdown.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard.actors import ADMIN, Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError
from dashboard.proxy import console
from dashboard.proxy.service import ProxyResponse

RESULT_KEY = "api_console_result"
HUBSPOT_ERROR_LINE = 5.0  # % of requests: HubSpot's Marketplace certification limit


def _usage(ctx: AppContext, actor: Actor, hub_id: int) -> None:
    try:
        summary = console.portal_usage(ctx, actor=actor, hub_id=hub_id, hours=24)
    except DashboardError as exc:
        st.warning(f"API usage unavailable: {exc}")
        return
    if not summary["calls"]:
        st.caption("No API calls through the proxy in the last 24 hours.")
        return
    rate = summary["error_rate"] * 100
    st.caption(f"{summary['calls']} calls in 24 h · error rate {rate:.1f} % (HubSpot's limit: 5 %) · "
               f"p95 {summary['p95_ms'] or 0:g} ms · 429s: {summary['by_status']['429_hubspot']} from HubSpot, "
               f"{summary['by_status']['429_proxy']} held back by the proxy")
    frame = pd.DataFrame(summary["minutes"])
    frame["minute"] = pd.to_datetime(frame["minute"])
    frame = frame.set_index("minute")
    left, right = st.columns(2)
    left.bar_chart(frame[["calls"]], height=180)
    errors = pd.DataFrame({"error rate %": frame["error_rate"] * 100, "HubSpot's 5 % line": HUBSPOT_ERROR_LINE},
                          index=frame.index)
    right.line_chart(errors, height=180)


def _show(answer: ProxyResponse) -> None:
    st.text(f"HTTP {answer.status}")
    st.json(answer.headers, expanded=False)
    try:
        data = json.loads(answer.body)
    except ValueError:
        st.text(answer.body.decode("utf-8", "replace")[:20_000])
        return
    st.json(data, expanded=False)
    needle = st.text_input("Find in the response", key="api_console_find")
    if needle:
        lines = [line for line in json.dumps(data, indent=2).splitlines() if needle.lower() in line.lower()]
        st.text("\n".join(lines[:200]) or "No line matches.")


def api_panel(ctx: AppContext, actor: Actor, hub_id: int) -> None:
    """Usage chart and console of one portal."""
    st.markdown("**API calls through the proxy (24 h)**")
    _usage(ctx, actor, hub_id)
    with st.expander("API console", expanded=False):
        methods = ["GET", "HEAD"] + (["POST", "PUT", "PATCH", "DELETE"] if actor.role == ADMIN else [])
        method = st.selectbox("Method", methods, key="api_console_method")
        target = st.text_input("Path and query", value=console.EXAMPLES[0], key="api_console_path",
                               help="e.g. " + ", ".join(console.EXAMPLES))
        body, confirmed = "", True
        if method not in ("GET", "HEAD"):
            body = st.text_area("JSON body", key="api_console_body")
            confirmed = st.text_input(f"Type {hub_id} to send a {method} to this customer's HubSpot",
                                      key="api_console_confirm").strip() == str(hub_id)
        if st.button("Send", key="api_console_send", disabled=not confirmed):
            try:
                st.session_state[RESULT_KEY] = (hub_id, console.call(
                    console.shared_service(ctx), actor=actor, hub_id=hub_id, method=method, target=target,
                    body=body.encode()))
            except DashboardError as exc:
                st.session_state[RESULT_KEY] = None
                st.error(str(exc))
        result = st.session_state.get(RESULT_KEY)
        if result is not None and result[0] == hub_id:
            _show(result[1])
