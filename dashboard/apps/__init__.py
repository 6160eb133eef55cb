"""Several HubSpot apps in one dashboard (production, staging, a developer's test app).

- ``urls``: the redirect URI, base URL and placeholder-secret rules every app's settings obey
- ``config``: ``[apps.<id>]`` tables (secrets.toml or DASHBOARD_APPS_FILE) read into :class:`AppSettings`
- ``registry``: the apps of one process, each with its own HubSpot client and leases (built by the
  composition root, dashboard/context.py)
- ``overview``: the configured apps at a glance, and apps whose connections remain (a service)

A connection is (app, hub id); the repository reads the app from the session (``session.info["app"]``), so a
service scoped to an app is the same service run with that app's context (``AppContext.for_app``).

Split in the layers (pyproject.toml): ``urls`` and ``config`` sit under settings, ``registry`` under the
composition root, ``overview`` (a service) above it beside the other domains.
"""
