"""One round of a session's spool writer, in its worker thread, and a full disk.

The session (pipeline/session.py) takes what waits on its `WriteQueue` and hands
it here: writes in their order, then raw samples in slices, then the session's
progress. A full disk costs raw samples, never events: the spool drops stored
samples oldest first to make room, and a slice that still does not fit is
dropped and counted in `Room`. When not even an event fits, the reserve file is
given up, the write goes in, and `Room.last_resort` tells the session to end
(`DiskFull` if even that was not enough).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from pipeline.store import disk
from pipeline.store.spool import DROP_WARNING_S, Spool, SpoolBusy, SpoolError, SpoolFull
from pipeline.store.write_queue import Taken, WriteQueue
from sensors.types import ImuBlock, Side

# the session's writer: its warnings stay under the session's logger
log = logging.getLogger("pipeline.session")

COMMIT_SAMPLES = 4096  # raw samples per transaction: ~60 000 rows/s (benchmarks/spool_rate.py)


class DiskFull(SpoolFull):
    """Not even an event fit on the disk: the session ended as "disk full"."""


@dataclass(slots=True)
class Room:
    """The writer's account of a full disk."""

    dropped: int = 0  # raw samples the disk had no room for
    last_resort: bool = False  # the reserve is given up: the session must end


def end_disk_full(spool: Spool, session_id: str) -> NoReturn:
    """End a session the full disk stopped, and raise DiskFull saying so."""
    where = spool.path.parent
    try:
        spool.end_session(session_id, time.time(), "disk full")
    except SpoolFull:
        raise DiskFull(
            f"disk full: no room left in {where}, not even to end session {session_id} "
            "(the next start closes it as interrupted); its committed events are intact"
        ) from None
    events = spool.session(session_id).events
    raise DiskFull(
        f"disk full: no room left for events in {where}; session {session_id} ended "
        f"with {events} events stored"
    )


def commit(
    spool: Spool, session_id: str, taken: Taken, progress: float, lost: int, room: Room
) -> None:
    """One round of the writer (in its thread): writes, then samples, then progress.

    What is committed leaves `taken`, so after a failure it holds just the rest.
    Raises SpoolGone if the spool's directory is gone or read-only, also when that
    is what made a write fail halfway.
    """
    spool.guard.check_place()
    try:
        _commit_round(spool, session_id, taken, progress, lost, room)
    except (OSError, SpoolError):
        spool.guard.check_place()  # the directory went while we wrote: say that instead
        raise


def _commit_round(
    spool: Spool, session_id: str, taken: Taken, progress: float, lost: int, room: Room
) -> None:
    while taken.writes:
        must(spool, room, taken.writes[0])
        del taken.writes[0]
    while taken.blocks:
        # a backlog goes in slices: the size bound is enforced after each, so one
        # commit never carries more than a slice past it
        n = rows = 0
        while n < len(taken.blocks) and rows < COMMIT_SAMPLES:
            rows += len(taken.blocks[n])
            n += 1
        if room.last_resort or not _fits(spool, session_id, taken.blocks[:n]):
            room.dropped += rows
        del taken.blocks[:n]
    must(spool, room, lambda s: s.note_progress(session_id, progress, lost + room.dropped))


def _fits(spool: Spool, session_id: str, blocks: list[ImuBlock]) -> bool:
    """Store raw samples, making room once if the disk is full; False if they found none."""
    for attempt in range(2):
        try:
            spool.add_samples(session_id, blocks)
            return True
        except SpoolFull:
            if attempt or not _made_room(spool):
                return False
    return False


def _made_room(spool: Spool) -> bool:
    try:
        return spool.guard.make_room(disk.COMMIT_BYTES) > 0
    except SpoolFull:
        return False


def must(spool: Spool, room: Room, write: Callable[[Spool], object]) -> None:
    """A write that is never dropped (events, bookkeeping), whatever it takes.

    A full disk first costs raw samples; then the reserve file goes, the write
    goes in, and `room.last_resort` tells the session to end. Raises DiskFull
    if even that was not enough.
    """
    try:
        write(spool)
        return
    except SpoolFull as exc:
        log.debug("%s; %s", exc, disk.describe(spool.path))
        if _made_room(spool):
            with contextlib.suppress(SpoolFull):
                write(spool)
                return
    if not room.last_resort:
        room.last_resort = True
        spool.guard.release_reserve()
    try:
        write(spool)
    except SpoolFull as exc:
        log.debug("after giving up the reserve: %s; %s", exc, disk.describe(spool.path))
        raise DiskFull(
            f"disk full: no room left in {spool.path.parent} even after giving up the "
            "reserve; the events committed so far are intact"
        ) from exc


def warn_busy(error: SpoolBusy, warned_at: float) -> float:
    """Log a busy spool at most once a minute; returns when it was last logged."""
    now = time.monotonic()
    if now - warned_at < DROP_WARNING_S:
        return warned_at
    log.warning("%s; retrying (raw samples wait, bounded)", error)
    return now


def warn_dropped(queue: WriteQueue, warned: tuple[float, int]) -> tuple[float, int]:
    """Log newly dropped samples, at most once a minute; returns (when, how many) last told."""
    now = time.monotonic()
    dropped = queue.dropped
    total = sum(dropped.values())
    if total > warned[1] and now - warned[0] >= DROP_WARNING_S:
        log.warning(
            "the store is slower than the sensors: %d raw samples dropped so far "
            "(L %d, R %d), oldest first; events are kept",
            total,
            dropped[Side.L],
            dropped[Side.R],
        )
        return now, total
    return warned
