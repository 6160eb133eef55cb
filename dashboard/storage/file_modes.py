"""Files at rest are private: the SQLite database and its sidecars, the key file and the spill journal 0600,
the data directory 0700.

SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files the permissions of the database file, so
creating the database 0600 before SQLite opens it is what keeps them private too. A private file found
with looser modes (left by an older version, copied with ``cp``, restored from a backup) is tightened back
to 0600 by whichever process opens it, the CLI included, with a warning that names it:
:func:`private_file` is that one check, and every opener of these files calls it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Create ``path`` (and parents) 0700; with ``tighten`` an existing directory is set to 0700 too."""
    existed = path.is_dir()
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if tighten or not existed:
        os.chmod(path, DIR_MODE)


def private_file(path: Path) -> bool:
    """Set an existing file that group or others may use back to 0600, with a warning; True if it was.

    A missing file is left alone (its creator makes it 0600). A file we may not chmod (another user's) is
    reported and left: opening it goes on, and fails there if it must.
    """
    try:
        found = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    if not found & 0o077:
        return False
    try:
        os.chmod(path, FILE_MODE)
    except OSError as exc:
        log.warning("%s is mode %04o (readable beyond its owner) and could not be set to 0600: %s", path, found,
                    exc.__class__.__name__)
        return False
    log.warning("%s was mode %04o (readable beyond its owner); set it to 0600", path, found)
    return True


def private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 if missing (before SQLite does, with the umask's mode), and set the
    file and any sidecar that exists to 0600."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    for candidate in (path, *(path.with_name(path.name + s) for s in SQLITE_SIDECARS)):
        private_file(candidate)


def private_data_dir(path: Path) -> None:
    """An existing data directory back to 0700 and every file in it (database, key, journal) to 0600."""
    if not path.is_dir():
        return
    private_dir(path)
    for entry in path.iterdir():
        if entry.is_file() and not entry.is_symlink():
            private_file(entry)
