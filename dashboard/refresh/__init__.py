"""Keeping tokens fresh: one portal under a lease, every due portal in bounded sweeps, and the worker loop.

- ``service``: :func:`~dashboard.refresh.service.refresh_portal` and ``refresh_due`` (lease, grant, store)
- ``store``: what a refresh produced, written under the lease: tokens retried, then journaled, never dropped
- ``journal``: the spill journal: refreshed tokens the database refused, replayed when it takes them
- ``worker``: the loop shared by ``refresh --due --loop`` and the worker embedded in every dashboard server

May import: lifecycle (every outcome is a transition), webhooks, hubspot's client, security (vault, guard),
storage (group commit, leases, journal files), ops.counters, the composition root and below. Not installs
or admin (independence contract); the readers above it (connections, tokens, proxy, ops) import it.
"""
