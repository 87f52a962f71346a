"""The spool's errors, one line each for the user (pipeline/cli.py prints them, exit 2)."""

from __future__ import annotations

import sqlite3


class SpoolError(Exception):
    """A spool problem worth one line to the user (bad file, unknown session, ...)."""


class SpoolBusy(SpoolError):
    """Another connection held the write lock beyond the busy timeout; worth a retry."""


class SpoolFull(SpoolError):
    """The file system (or SQLite's page limit) had no room for a write; nothing of it stored."""


class SpoolGone(SpoolError):
    """The spool's directory vanished or can no longer be written (disk unplugged, ...)."""


def is_full(exc: sqlite3.Error) -> bool:
    """True if SQLite said the database or disk is full (SQLITE_FULL)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_FULL
