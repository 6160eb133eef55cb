"""HubSpot's OAuth and API over HTTP: the only package that talks to HubSpot (or the sandbox standing in).

- ``client``: :class:`~dashboard.hubspot.client.HubSpotClient`, the one client for OAuth calls (retries, errors)
- ``transport``: several small connection pools, each thread bound to one
- ``protocol``: requests to build and responses to parse (pure)
- ``authorize``: the authorization (install) URL, built and read back (pure)
- ``answers``: what is kept of HubSpot's answer to a failed call (redacted, escaped, capped)
- ``forwarding``: the proxy's calls to HubSpot's API, passed through as they are
- ``hub_ids``: the one range check of hub ids every entry point uses

HubSpot's exceptions are translated here (``raise ... from exc``) into ``dashboard.errors``. May import
scopes (the catalog), errors and outbound's ``pool_limits`` (one keep-alive policy for every outbound pool)
only; httpx is imported nowhere else but the outbound edge and the sandbox.
"""
