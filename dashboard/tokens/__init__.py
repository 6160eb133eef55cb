"""The token API's core: fresh access tokens handed to services that hold an API key, every read counted.

- ``service``: list portals, hand out a fresh access token, force a refresh, for an API key
- ``reads``: token reads in batches, each read counted in the audit log before it is answered

The HTTP routes are in ``dashboard.web.api``. May import: proxy (the shared per-portal limits), refresh,
admin.api_keys, security, ops.counters, the composition root and below; only ``web`` imports it.
"""
