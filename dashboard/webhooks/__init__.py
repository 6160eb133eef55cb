"""Lifecycle webhooks, signed per Standard Webhooks and delivered at least once from a transactional outbox.

- ``events``: the event types and their payloads (pure; never a token)
- ``outbox``: :func:`~dashboard.webhooks.outbox.enqueue`, called inside the transaction of the change it reports
- ``transitions``: which event each of today's state changes emits (one call per write path)
- ``signing``: ``whsec_`` secrets and the ``webhook-*`` headers (the ``standardwebhooks`` package signs)
- ``ssrf``: which receiver addresses are allowed, checked when an endpoint is added and again at delivery
- ``delivery``: one pass over due deliveries (leased like refreshes, retried on the configured schedule)
- ``runner``: the delivery thread the refresh workers run beside their sweep
- ``endpoints``: the admin service behind the Settings page and ``python -m dashboard webhooks ...``
- ``alerts``: the Slack-compatible alert webhook (needs re-auth, repeated failures, recovery)

Everything here goes out through ``dashboard.outbound``, the one edge for HTTP that is not HubSpot's. May
import the composition root, security, repository and below; lifecycle, refresh, installs and admin import it.
"""
