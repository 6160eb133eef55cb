"""Fill a (small, test-mounted) file system to the last byte, the way a full disk looks to SQLite."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def fill(folder: Path) -> Path:
    """Write zeros into ``folder/filler`` until the file system refuses (ENOSPC); returns the filler.

    Unbuffered on purpose: a buffered file keeps the bytes its last failed flush could not write and tries
    them again on close, so the close itself raised ENOSPC in about one run in four.
    """
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


@contextmanager
def small_tmpfs(parent: Path, size: str = "16m") -> Iterator[Path]:
    """A real, small tmpfs mounted at ``parent/small-fs`` for the block; skips the test without root."""
    mnt = parent / "small-fs"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                                           capture_output=True, check=False).returncode != 0:
        pytest.skip("filling a disk needs a tmpfs mount (root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
