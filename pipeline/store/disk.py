"""The spool's own machine: free space, the reserve for the last writes, the place itself.

A gateway writes to an SD card or a USB disk for weeks. Three things can go wrong
under the spool: the file system fills up, it turns read-only, or the directory
goes away (a disk unplugged). This module measures them; `Spool` and the session
decide what to do (drop raw samples first, end the session cleanly).

The reserve is a plain file of RESERVE_BYTES beside the spool, written when a
session opens the spool. When not even an event fits any more, removing it gives
SQLite room for the events already decided and for ending the session as
"disk full": the file system may also be filled by someone else (logs, another
program), so free space alone cannot be counted on.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

RESERVE_NAME = "spool.reserve"
RESERVE_BYTES = 256 * 1024
"""Room kept for the last events and the session's end: a few WAL frames of 4 KiB each
per commit, so this holds dozens of commits even if the WAL has to grow."""

WAL_PAGES = 128
"""WAL frames before SQLite checkpoints them into the database (512 KiB of 4 KiB pages).
SQLite's default of 1000 (4 MiB) would not even fit on a 3 MB card."""

PAGE_BYTES = 4096
"""The spool's page size (SQLite's default); a WAL frame is a page and a 24-byte header."""

COMMIT_BYTES = 640 * 1024
"""Most WAL bytes one transaction of the spool writes: a slice of 4096 raw samples took
at most 144 frames (590 kB) in 400 slices measured against a pruned spool, and a
pruning transaction is kept to PRUNE_BYTES."""

PRUNE_BYTES = COMMIT_BYTES // 2
"""Pages one transaction that drops rows for room may free. Deleting writes every page
it frees into the WAL (measured: 848 kB freed, 216 frames written, with or without
`secure_delete`), so an unbounded drop could itself overflow the WAL it makes room for."""

WAL_CAP_BYTES = 32 + (WAL_PAGES + COMMIT_BYTES // PAGE_BYTES) * (PAGE_BYTES + 24)
"""Largest the WAL grows: up to WAL_PAGES frames wait for the checkpoint that follows
the commit crossing it, so one more transaction (COMMIT_BYTES) lands on top; the file
is cut back to this after each checkpoint (`journal_size_limit`)."""


class PlaceError(OSError):
    """The spool's directory vanished, was replaced, or can no longer be written."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where an open spool lives: the file's identity when it was opened."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> Place:
        st = path.stat()
        return cls(path, st.st_dev, st.st_ino)

    def check(self) -> None:
        """Raise PlaceError if the spool is no longer where it was, or not writable.

        The open file stays usable after its directory is removed or unmounted
        lazily: writes would go on, into a file nobody can find again.
        """
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise PlaceError(f"the data directory {self.path.parent} vanished") from None
        except OSError as exc:  # EIO from an unplugged disk, ENOTCONN...
            raise PlaceError(
                f"the data directory {self.path.parent} is unreadable: {exc.strerror or exc}"
            ) from None
        if (st.st_dev, st.st_ino) != (self.device, self.inode):
            raise PlaceError(f"the spool {self.path} was replaced by another file")
        if read_only(self.path.parent) or not os.access(self.path, os.W_OK):
            raise PlaceError(f"the data directory {self.path.parent} can no longer be written")


def free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer may still add on `directory`'s file system."""
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def read_only(directory: Path) -> bool:
    """True if `directory` is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def writable(directory: Path) -> bool:
    """True if files can be created in `directory` (mount and permissions)."""
    return not read_only(directory) and os.access(directory, os.W_OK | os.X_OK)


def wal_bytes(spool: Path) -> int:
    """Size of the spool's WAL file now (0 if there is none)."""
    try:
        return spool.with_name(spool.name + "-wal").stat().st_size
    except OSError:
        return 0


def describe(spool: Path) -> str:
    """Free space and file sizes beside the spool, for debug logs of a full disk."""
    sizes = []
    for suffix in ("", "-wal"):
        name = spool.name + suffix
        with contextlib.suppress(OSError):
            sizes.append(f"{name} {spool.with_name(name).stat().st_size} B")
    try:
        free = f"{free_bytes(spool.parent)} B free"
    except OSError as exc:
        free = f"free space unknown ({exc.strerror})"
    return ", ".join([free, *sizes])


def make_reserve(directory: Path) -> bool:
    """Write the reserve file if it is missing; False if there was no room for it.

    Written with real bytes and synced: a sparse or unsynced file would hold no room.
    """
    path = directory / RESERVE_NAME
    with contextlib.suppress(OSError):
        if path.stat().st_size == RESERVE_BYTES:
            return True
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(RESERVE_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    return True


def release_reserve(directory: Path) -> bool:
    """Remove the reserve file to make room; True if there was one."""
    try:
        (directory / RESERVE_NAME).unlink()
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Room:
    """What `mirrorwatch status` says about the spool's disk.

    `free` bytes on its file system; `reserve` whether the reserve file is in
    place; `short_at` when raw samples last made way for lack of room (unix s,
    None if never); `read_only` whether the spool was opened read-only.
    """

    free: int
    reserve: bool
    short_at: float | None
    read_only: bool

    def line(self, now: float) -> str:
        text = f"{self.free / 1e6:.1f} MB free"
        if self.read_only:
            text += ", read-only"
        if self.short_at is not None and now - self.short_at < 3600:
            text += f"; full {max(0.0, now - self.short_at):.0f} s ago: raw samples made way"
        return text

    def as_json(self) -> dict[str, object]:
        return {
            "disk_free": self.free,
            "disk_reserve": self.reserve,
            "disk_short_at": self.short_at,
            "read_only": self.read_only,
        }


def room(spool: Path, short_at: float | None, read_only: bool) -> Room:
    """The Room of the spool at `spool`."""
    return Room(
        free=free_bytes(spool.parent),
        reserve=(spool.parent / RESERVE_NAME).is_file(),
        short_at=short_at,
        read_only=read_only,
    )
