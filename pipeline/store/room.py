"""The spool against its own machine's faults: a full disk, a vanished directory.

A `DiskGuard` belongs to one open `Spool` (`spool.guard`). When the file system
cannot take a full WAL and one more commit beside the free pages inside the
spool, delivered raw samples and link rows and then undelivered raw samples make
way, oldest first and counted as dropped (`status`); events never do. The session
(pipeline/session.py) uses the rest: the reserve file for its last writes, and the
check that the spool is still where it was opened.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pipeline.store import disk, outbox
from pipeline.store.errors import SpoolFull, SpoolGone
from pipeline.store.outbox import Stream

T = TypeVar("T")
log = logging.getLogger("pipeline.store.spool")  # one logger for the spool's warnings


class _Spool(Protocol):
    path: Path
    read_only: bool
    place: disk.Place | None

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...


class DiskGuard:
    """Room on the spool's disk: make it, keep a reserve, notice the place going away."""

    def __init__(self, spool: _Spool) -> None:
        self._spool = spool
        self.untold = 0  # raw samples dropped for room since the last warning

    def make_room(self, at_least: int = 0) -> int:
        """Drop delivered rows, then raw samples, oldest first, while the disk is short.

        The disk is short when it cannot take a full WAL and one more commit
        (`disk.HEADROOM_BYTES`) beside the free pages inside the spool; `at_least`
        bytes of free pages are made in any case (after a write found it full).
        Returns the bytes freed; dropped samples are counted as dropped (`status`).
        """
        spool = self._spool
        page = int(spool.query("PRAGMA page_size")[0][0])
        wal_max = disk.WAL_PAGES * page + disk.COMMIT_BYTES
        wal_before = disk.wal_bytes(spool.path)
        if at_least or wal_before > wal_max + disk.COMMIT_BYTES:
            # Readers (delivery, `status`) can keep SQLite from restarting the WAL, which
            # then grows past its limit into the room we keep: give it back first.
            self._checkpoint()
        wal = disk.wal_bytes(spool.path)
        free_pages = int(spool.query("PRAGMA freelist_count")[0][0])
        room = disk.free_bytes(spool.path.parent) + free_pages * page
        deficit = max(
            max(0, wal_max - wal) + disk.COMMIT_BYTES - room, at_least - free_pages * page
        )
        if deficit <= 0:
            return wal_before - wal
        with spool.transaction() as db:
            used = outbox.used_bytes(db)
            lost = outbox.enforce_bound(db, used - deficit, disk_full=True)
            freed = used - outbox.used_bytes(db)
            outbox.set_meta(db, {"disk_short_at": repr(time.time())})
        self.untold += lost.get(Stream.SAMPLES, 0)
        if at_least:
            self._checkpoint()  # the pruned pages, out of the WAL and free in the file
        return freed + max(0, wal_before - disk.wal_bytes(spool.path))

    def _checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it (waits for readers, busy timeout)."""
        with contextlib.suppress(sqlite3.Error):  # not done: the next write will tell
            self._spool.query("PRAGMA wal_checkpoint(TRUNCATE)")

    def tell(self) -> None:
        """Log the raw samples dropped for room since the last time (the caller paces it)."""
        if self.untold:
            log.warning(
                "disk nearly full (%d kB free for %s): dropped %d raw samples, oldest "
                "first, to keep room for events",
                disk.free_bytes(self._spool.path.parent) // 1024,
                self._spool.path.parent,
                self.untold,
            )
            self.untold = 0

    def with_room(self, write: Callable[[], T]) -> T:
        """`write()`, once more after dropping raw samples if it found the disk full.

        For the small writes around a session (hourly rows, notes); raises
        SpoolFull if even then there was no room.
        """
        try:
            return write()
        except SpoolFull:
            if not self.make_room(disk.COMMIT_BYTES):
                raise
        return write()

    def status(self) -> disk.Room:
        """Free space, reserve and the last shortage, for `mirrorwatch status`."""
        rows = self._spool.query("SELECT value FROM meta WHERE key = 'disk_short_at'")
        short_at = float(rows[0][0]) if rows else None
        return disk.room(self._spool.path, short_at, self._spool.read_only)

    def release_reserve(self) -> bool:
        """Give the reserve file's room to the last writes (disk full); True if there was one."""
        return disk.release_reserve(self._spool.path.parent)

    def make_reserve(self) -> bool:
        """Keep room for the last writes of a session; False if the disk had none left."""
        return disk.make_reserve(self._spool.path.parent)

    def check_place(self) -> None:
        """Raise SpoolGone if the spool's directory vanished or turned unwritable."""
        if self._spool.place is not None:
            try:
                self._spool.place.check()
            except disk.PlaceError as exc:
                raise SpoolGone(str(exc)) from None
