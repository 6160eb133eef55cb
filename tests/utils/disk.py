"""Fill a (small, test-mounted) file system to the last byte, the way a full disk looks to SQLite."""

from __future__ import annotations

from pathlib import Path


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
