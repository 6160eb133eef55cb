"""Storage beneath the repository's SQL: engines and migrations, group commit, leases, private files, the
spill journal's durable appends, and tokens held in memory when no storage takes them.

- ``db``: engine creation (SQLite, PostgreSQL) and Alembic migrations (dashboard/migrations)
- ``group_commit``: short write transactions from many threads, committed together (SQLite's one writer)
- ``locks``: per-portal refresh leases across processes: in the database, or in Redis (the only Redis import)
- ``file_modes``: files at rest are private (0600 / 0700)
- ``journal_file``: one line appended durably on a disk that may be full, with reserved space
- ``unsaved_tokens``: refreshed tokens neither the database nor the journal took, held in this process

Built by the composition root (``dashboard.context``); imports only repository, models and errors. The SQL
itself lives in ``dashboard.repository``.
"""
