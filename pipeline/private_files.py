"""Files with health data or secrets are the owner's alone: 0600 files, 0700 directories.

What we create is created private (modes set with fchmod/chmod, as a umask can take
bits away from os.open's mode but never add them back). What we find already there
with group or other bits, from an older version or a user's copy, is tightened when
we open it, with one warning per path and process. Failing to tighten a file we do not
own is logged, never fatal: the data is still readable by us.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["create_private", "open_private", "prepare_spool", "private_dir", "tighten"]

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
_SPOOL_SIBLINGS = ("", "-wal", "-shm", "-journal")
_told: set[Path] = set()


def tighten(path: Path) -> bool:
    """Take group and other bits off `path` if it exists; True if its mode changed.

    Files become at most 0600, directories at most 0700 (the owner's own bits stay).
    """
    try:
        st = path.stat()
    except OSError:
        return False
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077:
        return False
    limit = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
    try:
        path.chmod(mode & limit)
    except OSError as e:
        _tell(
            path,
            logging.WARNING,
            f"{path} is readable by others (mode {mode:04o}) and "
            f"could not be made private: {e.strerror or e}",
        )
        return False
    _tell(
        path,
        logging.WARNING,
        f"{path} was readable by others (mode {mode:04o}); made it private ({mode & limit:04o})",
    )
    return True


def private_dir(path: Path) -> Path:
    """`path` as a directory; the ones created here (parents too) are 0700."""
    missing = []
    for p in (path, *path.parents):
        if p.exists():
            break
        missing.append(p)
    path.mkdir(parents=True, exist_ok=True)
    for p in missing:
        p.chmod(DIR_MODE)
    return path


def open_private(path: Path) -> None:
    """Create `path` empty and 0600, or truncate it and make it 0600 if it exists.

    Open it afterwards by name (text, gzip...): opening keeps the mode.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def create_private(path: Path) -> None:
    """Create `path` empty and 0600 unless it exists (then it is left as it is).

    For SQLite files: SQLite gives the -wal and -shm files it creates the mode of
    the database file, so they are private too.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def prepare_spool(path: Path) -> None:
    """Before opening the spool at `path`: its directory created 0700 if missing, and an
    existing spool and its -wal/-shm files made 0600 if they were readable by others."""
    private_dir(path.parent)
    for suffix in _SPOOL_SIBLINGS:
        tighten(path.with_name(path.name + suffix))


def _tell(path: Path, level: int, message: str) -> None:
    if path not in _told:
        _told.add(path)
        log.log(level, message)
