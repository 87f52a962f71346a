"""The spool against its own machine's faults: a full disk, a vanished directory.

A `DiskGuard` belongs to one open `Spool` (`spool.guard`). When the file system
cannot take a full WAL, the pages the WAL holds beyond the end of the database
file, and the part of one more commit that the free pages inside the spool
cannot take, delivered raw samples and link rows and then undelivered raw
samples make way, oldest first and counted as dropped (`status`); events never do. The session
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

        Free pages inside the spool only take new pages of the database; the WAL and
        the checkpoint need bytes of the file system: the WAL may grow to
        `disk.WAL_CAP_BYTES`, and the checkpoint writes out the pages the WAL added
        beyond the end of the database file. The disk is short when the file system
        cannot hold those and the part of the next transaction (`disk.COMMIT_BYTES`)
        the free pages cannot take; raw samples then make way until the free pages
        take it, so the database file stops growing while a full WAL still fits
        beside it. `at_least` bytes of free pages are made in any case (after a
        write found the disk full). Returns the bytes freed (pages and WAL); dropped
        samples are counted as dropped (`status`).
        """
        spool = self._spool
        wal_before = disk.wal_bytes(spool.path)
        if at_least or wal_before > disk.WAL_CAP_BYTES:
            # Readers (delivery, `status`) can keep SQLite from restarting the WAL, which
            # then grows past its cap into the room we keep: give it back first.
            self._checkpoint()
        short, growth, free = self._shortage()
        to_free = max(min(short, growth), at_least - free)
        freed = 0
        while freed < to_free:
            # in bounded steps: each step's deletions go through the WAL page for page
            step = min(to_free - freed, disk.PRUNE_BYTES)
            with spool.transaction() as db:
                used = outbox.used_bytes(db)
                lost = outbox.enforce_bound(db, used - step, disk_full=True)
                gone = used - outbox.used_bytes(db)
                outbox.set_meta(db, {"disk_short_at": repr(time.time())})
            self.untold += lost.get(Stream.SAMPLES, 0)
            if gone <= 0:
                break  # nothing left that may go
            freed += gone
        if at_least:
            self._checkpoint()  # the pruned pages, out of the WAL and free in the file
        return freed + max(0, wal_before - disk.wal_bytes(spool.path))

    def _shortage(self) -> tuple[int, int, int]:
        """(bytes the file system lacks, bytes of the next transaction the free pages
        cannot take, free bytes inside the spool); the first is negative when it has room."""
        spool = self._spool
        page = int(spool.query("PRAGMA page_size")[0][0])
        pages = int(spool.query("PRAGMA page_count")[0][0])
        free = int(spool.query("PRAGMA freelist_count")[0][0]) * page
        try:
            on_disk = spool.path.stat().st_size
        except OSError:
            on_disk = 0
        unwritten = max(0, pages * page - on_disk)  # only in the WAL until the checkpoint
        growth = max(0, disk.COMMIT_BYTES - free)
        wal_growth = max(0, disk.WAL_CAP_BYTES - disk.wal_bytes(spool.path))
        need = wal_growth + unwritten + growth
        return need - disk.free_bytes(spool.path.parent), growth, free

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
        """Give the reserve file's room to the last writes (disk full); True if there was one.

        The room goes to a checkpoint first: a WAL that cannot be checkpointed for
        want of room can never restart, and every later write would have to grow it.
        """
        released = disk.release_reserve(self._spool.path.parent)
        if released:
            self._checkpoint()
        return released

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
