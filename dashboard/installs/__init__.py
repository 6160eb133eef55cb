"""Installs: from an authorization URL to a stored portal, and the links that send a customer there.

- ``flow``: the authorization URL with a single-use ``state``, the callback and the immediate code exchange
- ``grants``: tokens HubSpot has just granted, named and written into the vault as a portal row
- ``pending``: granted tokens whose install could not be finished yet (kept sealed, finished or dropped)
- ``links``: sendable install and re-consent links (``/connect/<id>``) for a customer's HubSpot admin
- ``redirect_target``: where HubSpot sends the browser back, compared with where this dashboard answers
- ``scope_sets``: saved scope sets (the scope builder's save / load / compare), which links are made from

May import: the composition root (context), lifecycle and webhooks (an install is a state change that emits an
event), scopes, security, hubspot's protocol, repository, models. Not refresh, admin or the readers above
(an independence contract keeps installs, refresh and admin apart).
"""
