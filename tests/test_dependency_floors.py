"""Dependencies: floors past the known-fixed versions, and a pinned, hashed lock that CI installs from.

``security-floors.txt`` lists the first release of each dependency past its published advisories. A floor
in requirements*.txt or a pin in requirements*.lock below one of them fails here, as does a requirement
without a floor, a lock that misses a requirement or a hash, or an install path (README, .ci/run) that
does not use the lock.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
FLOOR_FILES = ("requirements.txt", "requirements-dev.txt")
LOCKS = {"requirements.txt": "requirements.lock", "requirements-dev.txt": "requirements-dev.lock"}


def requirement_lines(path: Path) -> list[Requirement]:
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def floor(req: Requirement) -> Version | None:
    lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    return max(lows) if lows else None


def known_fixed() -> dict[str, Version]:
    fixed = {}
    for req in requirement_lines(REPO / "security-floors.txt"):
        version = floor(req)
        assert version is not None, f"security-floors.txt: {req} names no version"
        fixed[canonicalize_name(req.name)] = version
    return fixed


def lock_pins(path: Path) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) of a pip-compile --generate-hashes lock."""
    pins: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text(encoding="utf-8")):
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s\\;]+)", block)
        if match:
            pins[canonicalize_name(match[1])] = (Version(match[2]), block.count("--hash=sha256:"))
    return pins


def test_the_known_fixed_list_is_not_empty() -> None:
    assert {"starlette", "authlib", "python-multipart"} <= set(known_fixed())


@pytest.mark.parametrize("name", FLOOR_FILES)
def test_every_requirement_has_a_floor_past_the_known_fixed_version(name: str) -> None:
    fixed = known_fixed()
    for req in requirement_lines(REPO / name):
        low = floor(req)
        assert low is not None, f"{name}: {req} has no floor"
        needed = fixed.get(canonicalize_name(req.name))
        assert needed is None or low >= needed, f"{name}: {req.name} floor {low} is below the fixed {needed}"


@pytest.mark.parametrize(("source", "lock"), LOCKS.items())
def test_the_lock_pins_every_requirement_with_hashes_and_meets_every_floor(source: str, lock: str) -> None:
    pins = lock_pins(REPO / lock)
    assert pins, f"{lock} pins nothing"
    assert all(hashes for _, hashes in pins.values()), f"{lock}: a pin without --hash"
    fixed = known_fixed()
    wanted = requirement_lines(REPO / source)
    if source == "requirements-dev.txt":
        wanted += requirement_lines(REPO / "requirements.txt")
    for req in wanted:
        key = canonicalize_name(req.name)
        assert key in pins, f"{lock} does not pin {req.name} (regenerate it, README: Dependencies)"
        version = pins[key][0]
        assert req.specifier.contains(version, prereleases=True), f"{lock}: {req.name}=={version} breaks {req}"
    for key, needed in fixed.items():
        if key in pins:
            assert pins[key][0] >= needed, f"{lock}: {key}=={pins[key][0]} is below the fixed {needed}"


def test_readme_and_ci_install_from_the_hashed_locks() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```", 2)[1].splitlines()
    run, test = first_block[1], first_block[2]
    assert "--require-hashes -r requirements.lock" in run
    assert "--require-hashes -r requirements-dev.lock" in test
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-dev.lock" in ci


def test_a_floor_below_the_known_fixed_version_is_caught() -> None:
    """The check itself: the old floors of issue #11 would fail."""
    fixed = known_fixed()
    for old in ("starlette>=0.40", "Authlib>=1.3.2", "python-multipart>=0.0.18"):
        req = Requirement(old)
        low = floor(req)
        assert low is not None and low < fixed[canonicalize_name(req.name)]
