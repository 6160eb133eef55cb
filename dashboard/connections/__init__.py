"""Connections as support staff see them: lists, details, actions, activity and export.

- ``service``: one connection's details, revoke, health check (token info), re-consent, forced refresh
- ``listing``: the Connections page's tiles, chart and one page of rows, counted by the database
- ``uninstall``: the app uninstalled from a customer's HubSpot account (the real "disconnect")
- ``activity``: the audit log as the Activity page and ``audit`` read it
- ``export``: the connections CSV, safe to open in a spreadsheet
- ``link_preview``: what a re-consent link would change for a connected portal, before it is created

A reader at the top of the domains: may import installs, refresh, lifecycle, webhooks, security, scopes, the
composition root and everything below; only the entry points (ui, cli) import it.
"""
