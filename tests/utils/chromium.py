"""Where the browser tests find Chromium, and the reason they are skipped when it is not there.

Playwright cannot download browsers here; the tests drive Debian's ``/usr/bin/chromium`` (``E2E_CHROMIUM``
names another binary). On a machine without it every browser test is skipped at collection (no dashboard
or sandbox is started for them) with a reason that says how to get it, and the README's test command
(``pytest -rs``) lists those skips in its closing summary, so a skipped browser suite is never mistaken
for a passing one.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT = "/usr/bin/chromium"


def chromium_path() -> str:
    return os.environ.get("E2E_CHROMIUM") or DEFAULT


def missing_reason() -> str | None:
    """Why the browser tests cannot run, or None when Chromium is there."""
    path = chromium_path()
    if Path(path).is_file() and os.access(path, os.X_OK):
        return None
    return (f"browser test not run: Chromium is not installed at {path}; install Debian's package "
            "(sudo apt-get install chromium, as .ci/run does) and run the tests again; see docs/development.md")
