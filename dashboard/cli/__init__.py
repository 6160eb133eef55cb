"""``python -m dashboard ...``: every command, each one a page's job done through the same services.

- ``main``: the parser and the dispatch (``python -m dashboard`` runs :func:`~dashboard.cli.main.main`)
- ``groups``: command groups whose sub-command is required, and the hub id argument type
- ``output``: the CLI's standard output and error, escaped (foreign text never reaches a terminal raw)
- ``pages``: scope sets, scope lint, token info, audit, connections CSV (what the pages show)
- ``links``, ``refresh``, ``health``, ``webhooks``, ``proxy``, ``service``: one file per page's commands

Owns no logic of its own: it parses, calls a service with the acting user, prints. It may import every
domain package and the composition root; nothing imports it but ``dashboard.__main__``.
"""
