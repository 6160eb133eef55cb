"""``--runs N`` for a bench: the same command N times in turn, each run's output printed as it ends, and the
``key=value`` fields of each run's result line returned, so the bench prints their median."""

from __future__ import annotations

import subprocess
import sys


def repeat(script: str, runs: int, result_prefix: str) -> list[dict[str, float]]:
    """Run ``script`` with this process's arguments (``--runs`` replaced by ``--runs 1``) ``runs`` times; the
    numeric fields of each run's line starting with ``result_prefix``."""
    argv = list(sys.argv[1:])
    at = next(i for i, a in enumerate(argv) if a.startswith("--runs"))
    del argv[at:at + (1 if "=" in argv[at] else 2)]
    found: list[dict[str, float]] = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, script, *argv, "--runs", "1"], capture_output=True, text=True,
                             check=True).stdout
        print(out, end="", flush=True)
        line = next(x for x in out.splitlines() if x.startswith(result_prefix))
        fields = (f.split("=", 1) for f in line.removeprefix(result_prefix).split() if "=" in f)
        found.append({k: float(v) for k, v in fields if _is_number(v)})
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
