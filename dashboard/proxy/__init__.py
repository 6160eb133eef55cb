"""The HubSpot API proxy: one call for an API key, with a fresh token, under the portal's rate limits.

- ``service``: the call itself: key check, token, limits, forwarding, the answer and its usage
- ``limiter``: moving-window limits (the ``limits`` library), in Redis when replicas share them
- ``paths``: which paths and headers may pass, and what HubSpot's 429 means (pure)
- ``tokens``: access tokens kept per portal for a few seconds
- ``usage``: usage per minute, portal and API key, flushed in batches
- ``console``: calls through the proxy for people (a portal's API console, ``python -m dashboard api``)

The HTTP routes are ``dashboard.web.proxy_routes``. May import refresh (a fresh token), admin.api_keys,
hubspot's forwarding, security, ops.counters, the composition root and below.
"""
