"""The spool's SQLite connection: its write transactions, and the checks and settings
a spool gets when it is opened for writing (pipeline/store/spool.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.store import disk, schema
from pipeline.store.errors import SpoolBusy, SpoolError, SpoolFull, is_full
from pipeline.store.schema import SCHEMA_VERSION


def setup(db: sqlite3.Connection, path: Path) -> None:
    """Check that `db` is a spool (or empty), switch it to WAL, set it up, create or migrate it."""
    # Checked before switching to WAL, which rewrites the file header: a file that
    # is not a spool must be left exactly as it was.
    if has_table(db, "meta"):
        schema_version(db, path)
    elif db.execute("SELECT 1 FROM sqlite_master").fetchone() is not None:
        raise SpoolError(f"{path} is an SQLite file but not a MirrorWatch spool")
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        # e.g. some network file systems: without WAL, readers block the writer.
        raise SpoolError(f"the spool {path} cannot use WAL mode (got {mode!r})")
    # FULL also syncs the WAL on every commit: a committed event survives power loss.
    db.execute("PRAGMA synchronous = FULL")
    # A small WAL, cut back after each checkpoint: it must fit on a small card too.
    db.execute(f"PRAGMA wal_autocheckpoint = {disk.WAL_PAGES}")
    db.execute(f"PRAGMA journal_size_limit = {disk.WAL_CAP_BYTES}")
    db.execute("PRAGMA foreign_keys = ON")
    if not has_table(db, "meta"):
        with transaction(db, path) as tx:
            # Re-read inside the write lock: another process may have created it.
            tables = [r[0] for r in tx.execute("SELECT name FROM sqlite_master")]
            if not tables:
                schema.create(tx)
            elif "meta" not in tables:
                raise SpoolError(f"{path} is an SQLite file but not a MirrorWatch spool")
    version = schema_version(db, path)
    if version > SCHEMA_VERSION:
        raise SpoolError(
            f"the spool {path} has schema version {version}, newer than this "
            f"MirrorWatch understands ({SCHEMA_VERSION}): upgrade MirrorWatch"
        )
    if version < 1:
        raise SpoolError(f"the spool {path} has unsupported schema version {version}")
    if version < SCHEMA_VERSION:
        with transaction(db, path) as tx:
            # Re-read inside the write lock: another process may have migrated it.
            row = tx.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            schema.migrate(tx, int(row[0]))


def schema_version(db: sqlite3.Connection, path: Path) -> int:
    """The spool's schema version; SpoolError if `db` has none (not a spool)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or not str(row[0]).isdigit():
        raise SpoolError(f"{path} has no valid schema version: not a MirrorWatch spool")
    return int(row[0])


def has_table(db: sqlite3.Connection, name: str) -> bool:
    """True if `db` has a table `name`."""
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return db.execute(sql, (name,)).fetchone() is not None


@contextmanager
def transaction(db: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction, committed (and synced) when the block ends."""
    try:
        # IMMEDIATE takes the write lock now (waiting up to the busy timeout)
        # rather than failing halfway through the transaction.
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        error = SpoolBusy if "locked" in str(exc) else SpoolFull if is_full(exc) else SpoolError
        raise error(f"cannot write to the spool {path}: {exc}") from exc
    try:
        yield db
        db.execute("COMMIT")
    except BaseException as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            error = SpoolFull if is_full(exc) else SpoolError
            raise error(f"cannot write to the spool {path}: {exc}") from exc
        raise
