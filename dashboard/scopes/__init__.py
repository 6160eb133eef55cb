"""HubSpot's scope catalog and everything pure about scope sets. No I/O except reading the packaged JSON once.

- ``catalog``: the catalog (dashboard/data/hubspot-scopes.json), :class:`~dashboard.scopes.catalog.ScopeSet`
- ``lint``: the scope linter and scope-set diff (required / conditionally required / optional, tiers)
- ``reasons``: why a requested scope is not granted, and whether re-consent can change that
- ``formats``: scope sets as HubSpot's app configuration writes them, and as a shareable query string

Low in the layers (HubSpot's client and the composition root use the catalog): imports nothing but
``dashboard.errors``. Saved scope sets, a service with storage, are ``dashboard.installs.scope_sets``.
"""
