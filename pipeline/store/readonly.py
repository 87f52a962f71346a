"""Opening a spool that cannot be written: a card taken out of a gateway, read-only media.

SQLite's own read-only modes each fail one case (measured on a read-only tmpfs,
SQLite 3.40):

- no WAL file (a clean close): `mode=ro` fails ("unable to open database file",
  it needs to create the -shm), `immutable=1` reads everything;
- a WAL with its -shm (the writer was killed, or the disk filled): `mode=ro`
  reads everything, `immutable=1` silently misses what is only in the WAL;
- a WAL without its -shm: both miss or fail.

So: no WAL, `immutable=1`; a WAL, `mode=ro`, and if that fails, a private copy of
the database and its WAL in a temporary directory, where SQLite recovers the WAL
as after a crash. The original files are never touched.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from pipeline.store import disk
from pipeline.store.errors import SpoolError


def open_spool(
    path: Path, timeout: float, schema_version: int
) -> tuple[sqlite3.Connection, Path | None, str]:
    """`connect`, then check it is a spool of `schema_version`; SpoolError if not.

    An older spool cannot be converted where it is: the user is told to copy it.
    """
    try:
        db, copy, how = connect(path, timeout)
    except (OSError, sqlite3.Error) as exc:
        raise SpoolError(f"cannot read the spool {path}: {exc}") from exc
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row is not None and str(row[0]).isdigit() else None
    except sqlite3.Error:
        version = None
    if version != schema_version:
        db.close()
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)
        if version is None:
            raise SpoolError(f"cannot read the spool {path}: not a MirrorWatch spool")
        raise SpoolError(
            f"the spool {path} has schema version {version}, this MirrorWatch reads "
            f"{schema_version}, and it cannot be converted where it is (read-only): "
            "copy it to a writable directory"
        )
    return db, copy, how


def connect(path: Path, timeout: float) -> tuple[sqlite3.Connection, Path | None, str]:
    """A query-only connection to the spool at `path`.

    Returns (connection, temporary directory to remove after closing or None, how
    it was opened, for the user). Raises sqlite3.Error or OSError.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no spool at {path}")
    if disk.wal_bytes(path) == 0:
        db = _open(f"file:{path}?immutable=1", timeout)
        return db, None, "read-only"
    try:
        db = _open(f"file:{path}?mode=ro", timeout)
        return db, None, "read-only"
    except sqlite3.Error:
        pass
    copy = Path(tempfile.mkdtemp(prefix="mirrorwatch-spool-"))
    try:
        for suffix in ("", "-wal"):
            source = path.with_name(path.name + suffix)
            shutil.copyfile(source, copy / (path.name + suffix))
        db = _open(f"file:{copy / path.name}", timeout)
    except BaseException:
        shutil.rmtree(copy, ignore_errors=True)
        raise
    return db, copy, "read-only, through a copy (its WAL was not checkpointed)"


def _open(uri: str, timeout: float) -> sqlite3.Connection:
    db = sqlite3.connect(
        uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
    )
    try:
        db.execute("PRAGMA query_only = ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails now, not later
    except BaseException:
        db.close()
        raise
    return db
