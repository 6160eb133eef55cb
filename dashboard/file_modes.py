"""Files at rest are private: the SQLite database and its sidecars 0600, the data directory 0700.

SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files the permissions of the database file, so
creating the database 0600 before SQLite opens it is what keeps them private too; files left by an
older version with looser modes are tightened on start.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Create ``path`` (and parents) 0700; with ``tighten`` an existing directory is set to 0700 too."""
    existed = path.is_dir()
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if tighten or not existed:
        os.chmod(path, DIR_MODE)


def private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 if missing (before SQLite does, with the umask's mode), and set the
    file and any sidecar that exists to 0600."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    for candidate in (path, *(path.with_name(path.name + s) for s in SQLITE_SIDECARS)):
        try:
            os.chmod(candidate, FILE_MODE)
        except FileNotFoundError:
            continue
