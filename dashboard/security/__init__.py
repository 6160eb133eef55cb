"""The product's defences, below the composition root: encryption at rest, permission checks, the audit
trail, who may reach a server without sign-in, and secrets and foreign text kept out of logs and pages.

- ``crypto``: AES-256-GCM with key ids and rotation (:class:`~dashboard.security.crypto.TokenCipher`)
- ``vault``: token material in and out of portal rows: the only place that pairs the cipher with columns
- ``guard``: :func:`~dashboard.security.guard.require`, the permission check every service makes
- ``audit``: writing audit events: one row per action, with a detail that never holds a secret
- ``access``: roles from settings, and whether an unauthenticated server is allowed
- ``host_rules``: the loopback Host/Origin rule (pure)
- ``logredact``: secrets out of every log line, ours and every library's
- ``terminal_text``: foreign text escaped: control and bidi characters never reach a terminal, log or page

May import: storage (private file modes), repository, settings, actors, models, errors. Services that admins
run on top of these (API keys, key rotation) are in ``dashboard.admin``.
"""
