"""Test helpers and fixtures, one concern per module (none of them is a test).

- ``backends``: PostgreSQL and Redis fixtures (registered by ``tests/conftest.py``'s ``pytest_plugins``).
- ``cli``: running ``python -m dashboard`` as a subprocess with a clean environment; ``SandboxCli``, the CLI
  tests' command runner against the sandbox.
- ``lifecycle``: installs and sandbox controls (grant, stats, tokens, faults), ``ADMIN``, ``FAST_RETRY``.
- ``seeding``: many connected, due portals at once (tests and ``bench/``).
- ``worker_zygote``: CLI workers forked in milliseconds (``python -m tests.utils.worker_zygote``).
- ``pages``: AppTest helpers and the sample portals of the page tests.
- ``sandbox_process``: ``python -m dashboard sandbox`` in a subprocess of its own, on a given port.
- ``sandbox_oauth``: raw OAuth round trips against the sandbox (the sandbox's own tests).
- ``browser``: Playwright helpers for Streamlit pages (e2e tests).
"""
