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
- ``scope_sets``: saved scope sets
- ``heartbeats``: worker heartbeats and the readiness ping
- ``credentials``: service API keys and sign-out epochs
- ``api_usage``: per-minute usage of the HubSpot proxy
- ``listing``: the connections listing: filters, sort segments, pages and counts at one instant
- ``_common``: what several modules share: ``session_app``, row counts of Core writes, shared tables and columns
"""

from __future__ import annotations

from dashboard.repository._common import LISTING_COLUMNS, session_app
from dashboard.repository.api_usage import (
    add_api_usage,
    api_usage_since,
    api_usage_totals,
    delete_api_usage_before,
)
from dashboard.repository.audit import add_audit_event, insert_audit_event, list_audit_events, recent_audit_exists
from dashboard.repository.credentials import (
    add_api_key,
    bump_sign_out,
    get_api_key,
    get_sign_out,
    list_api_keys,
    revoke_api_key,
    touch_api_key,
)
from dashboard.repository.heartbeats import delete_heartbeats_before, list_heartbeats, ping, save_heartbeat
from dashboard.repository.installs import (
    add_install_attempt,
    add_install_link,
    add_pending_install,
    claim_install_link,
    consume_install_attempt,
    delete_pending_install,
    finish_install_link,
    get_install_attempt,
    get_install_link,
    get_pending_install,
    list_install_links,
    list_pending_installs,
    note_pending_failure,
    purge_install_attempts,
    revoke_install_link,
)
from dashboard.repository.keys import first_portal_on_key, portals_not_on_key, portals_with_tokens, rows_per_key
from dashboard.repository.leases import (
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
    portal_filters,
    portal_or_not_found,
    save_portal,
    status_counts,
    update_portal,
    update_portal_at_version,
    update_portal_if_version,
)
from dashboard.repository.scope_sets import delete_scope_set, get_scope_set, list_scope_sets, save_scope_set

__all__ = [
    "LISTING_COLUMNS", "Segment", "add_api_key", "add_api_usage", "add_audit_event", "add_install_attempt",
    "add_install_link", "add_pending_install", "api_usage_since", "api_usage_totals", "bump_sign_out",
    "claim_due_portals", "claim_install_link", "consume_install_attempt",
    "count_listing", "count_portals", "delete_api_usage_before", "delete_heartbeats_before",
    "delete_pending_install", "delete_scope_set",
    "display_status_counts", "display_status_sql", "due_hub_ids", "earliest_expiry", "expiry_histogram_counts",
    "expiry_times", "fill_portal_scopes", "finish_install_link", "first_portal_on_key", "get_api_key",
    "get_install_attempt", "get_install_link", "get_pending_install", "get_portal", "get_scope_set", "get_sign_out",
    "insert_audit_event",
    "list_api_keys", "list_audit_events", "list_heartbeats", "list_install_links", "list_pending_installs",
    "list_portal_rows", "list_scope_sets", "listing_filters", "listing_order", "listing_page_ids",
    "listing_page_ids_by_order", "listing_segments", "normalize_search", "note_pending_failure", "ping",
    "portal_filters", "portal_or_not_found", "portal_rows_by_id", "portals_leased_to", "portals_losing_scopes",
    "portals_not_on_key", "portals_with_tokens", "purge_install_attempts", "recent_audit_exists", "release_lease",
    "replace_portal_scopes", "revoke_api_key", "revoke_install_link", "rows_per_key", "save_heartbeat",
    "save_portal", "save_scope_set", "session_app", "status_counts", "status_predicate", "touch_api_key",
    "try_acquire_lease", "update_portal", "update_portal_at_version", "update_portal_if_version",
]
