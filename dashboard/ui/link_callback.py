"""The OAuth callback for a browser that is not signed in: the customer's HubSpot admin back from consent.

With sign-in configured, the person HubSpot sends back to ``/install?code=…&state=…`` usually has no
dashboard account. The ``state`` is the authority (created by a signed-in operator, single use, hashed at
rest), so the install completes (:func:`dashboard.installs.flow.finish_install_for_state_holder`) and this
browser sees one result line and nothing else: no navigation, no sidebar, no data. The operator who made
the link sees the install in Activity and on Connections.
"""

from __future__ import annotations

from typing import Any, NoReturn

import streamlit as st

from dashboard.errors import DashboardError
from dashboard.installs import flow as install
from dashboard.ui.context import get_context
from dashboard.ui.text import md

CALLBACK_PARAMS = ("code", "state", "error", "error_description")
RESULT_KEY = "link_callback_result"


def callback_in_url() -> bool:
    """True when the URL carries an OAuth callback (or this session already handled one)."""
    return RESULT_KEY in st.session_state or any(k in st.query_params for k in ("code", "state", "error"))


def _complete() -> tuple[bool, str]:
    params: dict[str, Any] = {k: st.query_params.get(k) for k in CALLBACK_PARAMS if k in st.query_params}
    st.query_params.clear()  # a reload must not send the code again
    try:
        result = install.finish_install_for_state_holder(get_context(), params=params)
    except DashboardError as exc:
        return False, f"The connection was not made: {exc}"
    account = f"{result.hub_domain} ({result.hub_id})" if result.hub_domain else str(result.hub_id)
    return True, f"Connected HubSpot account {account} to the app. You can close this page."


def result_page() -> NoReturn:
    """Complete the callback once per session, show its one-line result, and stop the script."""
    if RESULT_KEY not in st.session_state:
        with st.spinner("Completing the connection with HubSpot…"):
            st.session_state[RESULT_KEY] = _complete()
    ok, message = st.session_state[RESULT_KEY]
    st.title("HubSpot connection")
    (st.success if ok else st.error)(md(message))
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises
