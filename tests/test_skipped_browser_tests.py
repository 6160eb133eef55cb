"""A machine without Chromium: the README's test command says which browser tests it skipped and why.

``pytest -rs`` prints every skip's reason in the closing summary; the reason names the missing binary and
how to install it (tests/utils/chromium.py), so a skipped browser suite is never read as a passing one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    """The second line of the README's first code block (what .ci/run runs)."""
    block = re.search(r"^```[^\n]*\n(.*?)^```", (REPO / "README.md").read_text(encoding="utf-8"), re.S | re.M)
    assert block is not None
    return block.group(1).splitlines()[1]


def test_the_readme_test_command_reports_skips_with_their_reasons() -> None:
    pytest_args = readme_test_command().split("-m pytest", 1)[1].split()
    assert any(re.fullmatch(r"-r[a-zA-Z]*[sa][a-zA-Z]*", arg) for arg in pytest_args), pytest_args


def test_without_chromium_every_browser_test_is_skipped_with_how_to_install_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-chromium-here"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DASHBOARD_", "PYTEST_"))}
    env["E2E_CHROMIUM"] = str(missing)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:randomly", "-p", "no:xdist", "-p", "no:cacheprovider",
         "tests/e2e/test_export_download.py", "tests/e2e/test_links.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"^\d+ skipped", out.splitlines()[-1]) and "passed" not in out.splitlines()[-1], out
    summary = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert summary, out
    for line in summary:
        assert f"Chromium is not installed at {missing}" in line, line
        assert "apt-get install chromium" in line and "docs/development.md" in line, line
