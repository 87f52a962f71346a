"""What a running session has decided to store, waiting for the spool's writer.

The sensors must never wait for the disk: a session hands its writes over
here without blocking, and one writer (the session's store task, in a worker
thread) commits them. Events and small writes (link records, hourly
aggregates) are never dropped. Raw samples are bounded: when the store falls
so far behind that more than `max_samples` wait, the oldest blocks are dropped
and counted per wrist, so memory stays bounded and the newest data survives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.engine.events import MovementEvent
from pipeline.store.spool import Spool
from sensors.types import ImuBlock, Side

MAX_WAITING_SAMPLES = 60_000
"""Raw samples (both wrists) that may wait for the store: 5 min at 100 Hz, ~10 MB."""

Write = Callable[[Spool], object]
"""A small write to run on the spool, in order with the events."""


@dataclass(slots=True)
class Taken:
    """Everything waiting at one moment: writes in their order, then samples."""

    writes: list[Write] = field(default_factory=list)
    blocks: list[ImuBlock] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.writes or self.blocks)


class WriteQueue:
    """Writes handed over by the session, taken in batches by its writer.

    Used from one thread (the event loop); the writer thread only ever sees what
    `take` returned. `on_put` is called after every write or event put, to wake
    the writer: they are committed at once, samples at the writer's own pace.
    """

    def __init__(self, session_id: str, *, max_samples: int | None = None) -> None:
        """At most `max_samples` (default MAX_WAITING_SAMPLES) wait; beyond, the oldest go."""
        if max_samples is None:
            max_samples = MAX_WAITING_SAMPLES
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        self.session_id = session_id
        self.max_samples = max_samples
        self.on_put: Callable[[], None] | None = None
        self._writes: list[Write] = []
        self._blocks: deque[ImuBlock] = deque()
        self._waiting = 0
        self._dropped = dict.fromkeys(Side, 0)

    @property
    def dropped(self) -> dict[Side, int]:
        """Raw samples dropped per wrist because the store fell behind (running totals)."""
        return dict(self._dropped)

    @property
    def waiting_samples(self) -> int:
        """Raw samples waiting for the writer now."""
        return self._waiting

    def events(self, events: list[MovementEvent]) -> None:
        """Store these events (never dropped)."""
        if events:
            sid = self.session_id
            self.write(lambda spool: spool.add_events(sid, events))

    def write(self, write: Write) -> None:
        """Run `write(spool)` in the writer, after everything put before it (never dropped)."""
        self._writes.append(write)
        self._woken()

    def samples(self, block: ImuBlock) -> None:
        """Store this block's raw samples, unless the store is too far behind."""
        if not len(block):
            return
        self._blocks.append(block)
        self._waiting += len(block)
        self._bound()

    def _bound(self) -> None:
        while self._waiting > self.max_samples:
            old = self._blocks.popleft()
            self._waiting -= len(old)
            self._dropped[old.side] += len(old)

    def take(self) -> Taken:
        """Everything waiting, emptied out of the queue."""
        taken = Taken(self._writes, list(self._blocks))
        self._writes = []
        self._blocks.clear()
        self._waiting = 0
        return taken

    def put_back(self, taken: Taken) -> None:
        """Return what a writer could not commit, ahead of what came since (the bound holds)."""
        self._writes[:0] = taken.writes
        self._blocks.extendleft(reversed(taken.blocks))
        self._waiting += sum(len(b) for b in taken.blocks)
        self._bound()

    def _woken(self) -> None:
        if self.on_put is not None:
            self.on_put()
