"""Settings: what the dashboard is configured with. Never a secret: only whether each one is set."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.admin import keys
from dashboard.apps.overview import apps_overview
from dashboard.errors import DashboardError
from dashboard.ui.api_keys_panel import api_keys_section
from dashboard.ui.layout import start_page
from dashboard.ui.redirect_check import redirect_check
from dashboard.ui.text import md
from dashboard.ui.webhooks_panel import webhooks_section
from dashboard.ui.worker_status import show_sweep_status

ctx, _actor = start_page("Settings")
settings = ctx.settings
st.caption("Set these with environment variables or .streamlit/secrets.toml, then restart the dashboard.")


def is_set(value: object) -> str:
    return "set" if value is not None else "not set"


if len(overview := apps_overview(ctx, actor=_actor)) > 1:  # several apps, or rows of an app no longer configured
    st.header("Apps")
    st.container(key="set_apps_table").dataframe(pd.DataFrame({
        "app": [a.id for a in overview], "label": [a.label for a in overview],
        "production": [a.production for a in overview], "configured": [a.configured for a in overview],
        "connections": [a.connections for a in overview], "API base URL": [a.api_base_url for a in overview],
    }), hide_index=True, width="stretch")
    for orphan in (a for a in overview if not a.configured):
        st.warning(md(orphan.advice))

st.header("HubSpot app" + (f" · {ctx.app_id}" if ctx.apps is not None and len(ctx.apps) > 1 else ""))
# Every declared app has its secret (checked at start); the single-app settings' may be unset (sandbox).
secret = "sandbox app (built in)" if ctx.sandbox_mode else "set"
st.container(key="set_app_table").dataframe(pd.DataFrame({
    "setting": ["Client id", "Client secret", "OAuth API version", "App base URL", "API base URL",
                "Marketplace installs (no state)", "Refresh leeway"],
    "value": [ctx.app.client_id[:4] + "…", secret, settings.hubspot_oauth_api, ctx.app.app_base_url,
              ctx.app.api_base_url, "allowed" if settings.dashboard_allow_marketplace_installs else "refused",
              f"{settings.dashboard_refresh_leeway_seconds} s"],
}), hide_index=True, width="stretch")

st.markdown(f"**Redirect URI:** `{ctx.app.redirect_uri}`")
redirect_check(ctx, confirm=True)

st.header("Storage and locks")
st.container(key="set_storage_table").dataframe(pd.DataFrame({
    "setting": ["Database backend", "Refresh lock backend", "Alert webhook", "Data directory"],
    "value": [settings.database_backend, ctx.leases.name, is_set(settings.dashboard_alert_webhook_url),
              str(settings.dashboard_data_dir)],
}), hide_index=True, width="stretch")

st.header("Refresh workers")
st.caption(f"Embedded worker: {'on' if settings.dashboard_embedded_worker else 'off'} "
           f"(DASHBOARD_EMBEDDED_WORKER), every {settings.dashboard_worker_interval_seconds:g} s "
           "(DASHBOARD_WORKER_INTERVAL_SECONDS).")
show_sweep_status(ctx, _actor)

st.header("Encryption keys")
try:
    status = keys.key_status(ctx.engine, ctx.cipher, actor=_actor)
except DashboardError as exc:
    st.error(md(exc))
else:
    table = status.table()
    st.container(key="set_keys_table").dataframe(pd.DataFrame({
        "key id": [r.key_id for r in table], "role": [r.role for r in table], "rows": [r.rows for r in table],
    }), hide_index=True, width="stretch")
    if status.unknown_key_ids:
        st.error("Rows are encrypted with key ids that are not configured: "
                 f"{', '.join(status.unknown_key_ids)}. Add those keys back to DASHBOARD_ENCRYPTION_KEYS.")
    elif status.rows_to_rotate:
        st.warning(f"{status.rows_to_rotate} rows still use an older key; run `python -m dashboard keys rotate`.")
    else:
        st.success(f"Every stored token uses the primary key {status.primary_key_id}.")

st.header("Token API keys")
st.caption("Services get fresh tokens from /api/v1 with these keys (docs/operations.md, 'Token API').")
api_keys_section(ctx, _actor)

st.header("Lifecycle webhooks")
st.caption("Signed connection events (Standard Webhooks) for your services: docs/webhooks.md.")
webhooks_section(ctx, _actor)

st.header("Sandbox")
if ctx.sandbox_mode:
    st.info(f"Sandbox mode is on: HubSpot calls go to the built-in sandbox at {ctx.sandbox_url or 'an unknown URL'}.")
else:
    st.success("Sandbox mode is off: the dashboard talks to HubSpot.")
