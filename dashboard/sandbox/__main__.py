"""``python -m dashboard.sandbox ...``: the same as ``python -m dashboard sandbox ...``."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
