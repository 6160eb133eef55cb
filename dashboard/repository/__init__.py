"""All SQL lives in this package. Keyword-only functions taking a ``session``; the caller commits.

Writes that race with other processes (leases, token stores, key rotation, state consumption) are single
conditional ``UPDATE ... WHERE`` statements whose row count says who won: read-then-write in Python would
lose updates when several workers share the database.

Callers import the package (``from dashboard import repository; repository.get_portal(...)``); every public
function is re-exported here from its module:

- ``portals``: portal rows: read, save, filter, update (the refresh path's prebuilt UPDATEs), count
- ``leases``: which portals are due for a refresh, and the database leases that refresh them one at a time
- ``portal_scopes``: the portal_scope index of granted scopes
- ``keys``: portal rows by encryption key (key rotation)
- ``installs``: install attempts (OAuth ``state``), pending installs, sendable install links
- ``audit``: the audit log
- ``health``: the per-portal timeline (the audit log), app-wide conditions (the breaker), uptime from transitions
- ``scope_sets``: saved scope sets
- ``heartbeats``: worker heartbeats and the readiness ping
- ``credentials``: service API keys and sign-out epochs
- ``webhooks``: webhook endpoints, the outbox (events and deliveries), delivery leases and attempts
- ``api_usage``: per-minute usage of the HubSpot proxy
- ``listing``: the connections listing: filters, sort segments, pages and counts at one instant
- ``_common``: what several modules share: ``session_app``, row counts of Core writes, shared tables and columns

Imports only the tables (``models``, ``webhook_models``), ``status`` and ``errors``: it knows no service, so
every domain can use it.
"""

from __future__ import annotations

from dashboard.repository._common import LISTING_COLUMNS, app_terms, session_app
from dashboard.repository.api_usage import (
    add_api_usage,
    api_usage_since,
    api_usage_totals,
    delete_api_usage_before,
)
from dashboard.repository.audit import (
    ReadSlot,
    add_audit_event,
    add_read_counts,
    insert_audit_event,
    list_audit_events,
    recent_audit_exists,
)
from dashboard.repository.credentials import (
    add_api_key,
    bump_sign_out,
    get_api_key,
    get_sign_out,
    list_api_keys,
    revoke_api_key,
    touch_api_key,
)
from dashboard.repository.health import (
    TRANSITION,
    active_conditions,
    fleet_transitions,
    get_condition,
    last_event_at,
    list_timeline,
    prune_audit_before,
    release_backoff_since,
    release_key_backoff,
    set_condition,
    take_probe,
    timeline_facets,
    uptime_shares,
)
from dashboard.repository.heartbeats import delete_heartbeats_before, list_heartbeats, ping, save_heartbeat
from dashboard.repository.installs import (
    add_install_attempt,
    add_install_link,
    add_pending_install,
    claim_install_link,
    consume_install_attempt,
    count_link_open,
    count_live_link_states,
    delete_pending_install,
    finish_install_link,
    get_install_attempt,
    get_install_link,
    get_pending_install,
    install_attempt_app,
    list_install_links,
    list_pending_installs,
    note_pending_failure,
    purge_install_attempts,
    revoke_install_link,
)
from dashboard.repository.keys import (
    first_portal_on_key,
    portals_not_on_key,
    portals_with_tokens,
    rows_on_old_binding,
    rows_per_key,
)
from dashboard.repository.leases import (
    claim_due_portal_rows,
    claim_due_portals,
    due_hub_ids,
    portals_leased_to,
    release_lease,
    try_acquire_lease,
)
from dashboard.repository.listing import (
    Segment,
    count_listing,
    display_status_counts,
    display_status_sql,
    expiry_histogram_counts,
    listing_filters,
    listing_order,
    listing_page_ids,
    listing_page_ids_by_order,
    listing_segments,
    normalize_search,
    portal_rows_by_id,
    status_predicate,
)
from dashboard.repository.portal_scopes import fill_portal_scopes, portals_losing_scopes, replace_portal_scopes
from dashboard.repository.portals import (
    count_portals,
    earliest_expiry,
    expiry_times,
    get_portal,
    list_portal_rows,
    portal_counts_by_app,
    portal_filters,
    portal_or_not_found,
    save_portal,
    status_counts,
    token_rows,
    update_portal,
    update_portal_at_version,
    update_portal_if_version,
)
from dashboard.repository.scope_sets import delete_scope_set, get_scope_set, list_scope_sets, save_scope_set
from dashboard.repository.webhooks import (
    DeliveryRow,
    LeasedDelivery,
    add_webhook_endpoint,
    any_webhook_due,
    claim_webhook_deliveries,
    fail_webhook_deliveries_of,
    finish_webhook_attempt,
    get_webhook_delivery,
    get_webhook_endpoint,
    insert_webhook_event,
    list_webhook_deliveries,
    list_webhook_endpoints,
    matching_endpoint_ids,
    redeliver_webhook,
    reseal_webhook_endpoint,
    update_webhook_endpoint,
    webhook_deliveries_leased_to,
    webhook_endpoints_off_key,
    webhook_queue_stats,
)

__all__ = [
    "LISTING_COLUMNS",
    "TRANSITION",
    "DeliveryRow",
    "LeasedDelivery",
    "ReadSlot",
    "Segment",
    "active_conditions",
    "add_api_key",
    "add_api_usage",
    "add_audit_event",
    "add_install_attempt",
    "add_install_link",
    "add_pending_install",
    "add_read_counts",
    "add_webhook_endpoint",
    "any_webhook_due",
    "api_usage_since",
    "api_usage_totals",
    "app_terms",
    "bump_sign_out",
    "claim_due_portal_rows",
    "claim_due_portals",
    "claim_install_link",
    "claim_webhook_deliveries",
    "consume_install_attempt",
    "count_link_open",
    "count_listing",
    "count_live_link_states",
    "count_portals",
    "delete_api_usage_before",
    "delete_heartbeats_before",
    "delete_pending_install",
    "delete_scope_set",
    "display_status_counts",
    "display_status_sql",
    "due_hub_ids",
    "earliest_expiry",
    "expiry_histogram_counts",
    "expiry_times",
    "fail_webhook_deliveries_of",
    "fill_portal_scopes",
    "finish_install_link",
    "finish_webhook_attempt",
    "first_portal_on_key",
    "fleet_transitions",
    "get_api_key",
    "get_condition",
    "get_install_attempt",
    "get_install_link",
    "get_pending_install",
    "get_portal",
    "get_scope_set",
    "get_sign_out",
    "get_webhook_delivery",
    "get_webhook_endpoint",
    "insert_audit_event",
    "insert_webhook_event",
    "install_attempt_app",
    "last_event_at",
    "list_api_keys",
    "list_audit_events",
    "list_heartbeats",
    "list_install_links",
    "list_pending_installs",
    "list_portal_rows",
    "list_scope_sets",
    "list_timeline",
    "list_webhook_deliveries",
    "list_webhook_endpoints",
    "listing_filters",
    "listing_order",
    "listing_page_ids",
    "listing_page_ids_by_order",
    "listing_segments",
    "matching_endpoint_ids",
    "normalize_search",
    "note_pending_failure",
    "ping",
    "portal_counts_by_app",
    "portal_filters",
    "portal_or_not_found",
    "portal_rows_by_id",
    "portals_leased_to",
    "portals_losing_scopes",
    "portals_not_on_key",
    "portals_with_tokens",
    "prune_audit_before",
    "purge_install_attempts",
    "recent_audit_exists",
    "redeliver_webhook",
    "release_backoff_since",
    "release_key_backoff",
    "release_lease",
    "replace_portal_scopes",
    "reseal_webhook_endpoint",
    "revoke_api_key",
    "revoke_install_link",
    "rows_on_old_binding",
    "rows_per_key",
    "save_heartbeat",
    "save_portal",
    "save_scope_set",
    "session_app",
    "set_condition",
    "status_counts",
    "status_predicate",
    "take_probe",
    "timeline_facets",
    "token_rows",
    "touch_api_key",
    "try_acquire_lease",
    "update_portal",
    "update_portal_at_version",
    "update_portal_if_version",
    "update_webhook_endpoint",
    "uptime_shares",
    "webhook_deliveries_leased_to",
    "webhook_endpoints_off_key",
    "webhook_queue_stats",
]
