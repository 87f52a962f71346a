"""Asyncio orchestration: a source, the engine and the spool.

One task reads the source, one feeds the engine, one stores. The store task
commits in a worker thread, so a slow disk never holds up the event loop (and
the BLE notifications it serves): what the engine decides goes into a
`WriteQueue` without waiting, events are committed at once, raw samples every
`COMMIT_INTERVAL_S` with the session's progress, and if the store falls behind
the oldest raw samples are dropped and counted, never events. Stopping (a
signal, or the source ending) drains in order: the source stops (at once, also
while it waits for wrists that send nothing), the engine is flushed, every
decided event is committed, then the session is closed.

The machine itself can fail the store (pipeline/store/disk.py; the writer's
rounds are in pipeline/store/writer.py). A full disk costs raw samples, never
events: the spool drops stored samples oldest first to make room, and a slice
that still does not fit is dropped and counted. When not even an event fits,
the reserve file is given up, the session stops as if signalled, commits what
the engine decided and ends as "disk full" (`DiskFull`).
A data directory that vanishes or turns read-only is noticed at the next round
of the writer (a quarter of a second) and ends the session at once (`SpoolGone`):
nothing more can be committed, and the next start closes it as interrupted.

A `background` job (for example continuous delivery to InfluxDB) runs beside
them and is told, through the event it receives, when everything is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from pipeline.engine import Engine, EngineStats
from pipeline.engine.events import Event, MovementEvent
from pipeline.store import disk, writer
from pipeline.store.sessions import SessionInfo
from pipeline.store.spool import DROP_WARNING_S, Spool, SpoolBusy, SpoolGone
from pipeline.store.write_queue import WriteQueue
from pipeline.store.writer import DiskFull
from sensors.source import Source
from sensors.types import ImuBlock

__all__ = ["COMMIT_INTERVAL_S", "DiskFull", "SessionResult", "run_session", "run_until_signalled"]

T = TypeVar("T")
log = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 0.25
"""Raw samples and progress are committed this often (wall s): a killed process
loses at most about this much, and the disk sees a few syncs per second."""


@dataclass(frozen=True, slots=True)
class SessionResult:
    """What a finished session produced."""

    info: SessionInfo
    events: list[MovementEvent]
    stats: EngineStats
    covered: float  # s of session time the source delivered
    stopped: bool  # ended by a stop request rather than by the source
    dropped_samples: int  # raw samples not stored: the store fell behind


@dataclass(frozen=True, slots=True)
class _Done:
    """End of stream marker between tasks."""


_DONE = _Done()


@dataclass(frozen=True, slots=True)
class _Hooks:
    """What the caller asked of one session, beside its source, engine and spool."""

    store_samples: bool
    on_event: Callable[[Event], None] | None
    on_block: Callable[[ImuBlock], None] | None
    background: Callable[[asyncio.Event], Awaitable[None]] | None
    wait_for_store: bool


class _Run:
    """One session's four jobs and the state they share.

    `read_source` pumps the source's blocks onto a bounded queue and stops it at
    once when asked; `run_engine` feeds them to the engine and hands what it
    decides (and the raw samples) to the write queue; `write_store` commits that
    queue in its worker thread every `COMMIT_INTERVAL_S`; `run_background` runs
    the caller's job beside them. `finish` closes the session in the spool.
    """

    def __init__(
        self,
        source: Source,
        engine: Engine,
        spool: Spool,
        session_id: str,
        *,
        hooks: _Hooks,
        stop: asyncio.Event,
        queue: WriteQueue,
        queue_size: int,
    ) -> None:
        self.source, self.engine, self.spool, self.session_id = source, engine, spool, session_id
        self.hooks, self.stop, self.queue = hooks, stop, queue
        self.blocks: asyncio.Queue[ImuBlock | _Done] = asyncio.Queue(queue_size)
        self.covered = 0.0  # s of session time the source delivered
        self.fed = 0.0  # session time of the newest block the engine has seen
        self.stopped = False
        self.events: list[MovementEvent] = []
        self.computed = asyncio.Event()  # the engine is flushed: nothing more to write
        self.drained = asyncio.Event()  # set whenever the writer has taken what was waiting
        self.stored_all = asyncio.Event()  # the writer's last round is in (or it failed)
        # A source that can wait needs no more than two commits' worth queued: holding
        # the whole bound would only keep ~10 MB of blocks alive for nothing.
        self.patience = min(queue.max_samples, 2 * writer.COMMIT_SAMPLES)
        self.room = writer.Room()
        self._busy_told = -DROP_WARNING_S
        self._dropped_told = (-DROP_WARNING_S, 0)

    async def make_reserve(self) -> None:
        """The reserve file the last events of a full disk go into; a warning if none."""
        if not await asyncio.to_thread(self.spool.guard.make_reserve):
            log.warning(
                "no room for the spool's reserve (%d kB) in %s: a full disk may end "
                "this session without its last events",
                disk.RESERVE_BYTES // 1024,
                self.spool.path.parent,
            )

    async def run_jobs(self) -> None:
        """The four jobs until all are done; the first failure is raised alone."""
        try:
            # A TaskGroup, not gather: if one job fails, the others are cancelled and
            # awaited, so the writer thread is done before the caller closes the spool.
            async with asyncio.TaskGroup() as group:
                for job in (
                    self.read_source(),
                    self.run_engine(),
                    self.write_store(),
                    self.run_background(),
                ):
                    group.create_task(job)
        except ExceptionGroup as failed:
            first = failed.exceptions[0]  # the first failure tells the story
            if isinstance(first, SpoolGone):
                raise SpoolGone(
                    f"{first}: session {self.session_id} stopped; the next start in that "
                    "directory closes it as interrupted"
                ) from None
            raise first from None

    # -- the source pump

    async def read_source(self) -> None:
        """Blocks onto the queue until the source ends or `stop` is set, then `_DONE`."""
        iterator = self.source.blocks()
        pumping = asyncio.create_task(self._pump(iterator))
        # A stop must not wait for the next block: with both wrists silent there is none.
        stopping = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait((pumping, stopping), return_when=asyncio.FIRST_COMPLETED)
            if not pumping.done():
                self.stopped = True
        finally:
            stopping.cancel()
            pumping.cancel()  # where the source waits; nothing if it has ended
            await asyncio.wait((pumping,))  # the source is not running when closed
            failure = None if pumping.cancelled() else pumping.exception()
            # closes a BLE or file source promptly, also when cancelled
            with contextlib.suppress(AttributeError):
                await iterator.aclose()  # type: ignore[attr-defined]
            await self.blocks.put(_DONE)
        if failure is not None:
            raise failure  # the source's own error

    async def _pump(self, iterator: AsyncIterator[ImuBlock]) -> None:
        async for block in iterator:
            if self.stop.is_set():
                self.stopped = True
                break
            if len(block):
                self.covered = max(self.covered, float(block.t[-1]))
            await self.blocks.put(block)

    # -- the engine step

    async def run_engine(self) -> None:
        """Every block through the engine in order, then its flush; decisions to the queue."""
        try:
            while not isinstance(block := await self.blocks.get(), _Done):
                if self.hooks.on_block is not None:
                    self.hooks.on_block(block)
                if self.hooks.store_samples:
                    await self._wait_for_room(len(block))
                    self.queue.samples(block)
                if len(block):
                    self.fed = max(self.fed, float(block.t[-1]))
                self._decided(self.engine.feed(block))
            self._decided(self.engine.flush())
        finally:
            self.computed.set()
            if self.queue.on_put is not None:
                self.queue.on_put()  # the writer's last round need not wait for its timer

    async def _wait_for_room(self, samples: int) -> None:
        """A source that can wait waits for the writer rather than lose raw samples."""
        while self.hooks.wait_for_store and self.queue.waiting_samples + samples > self.patience:
            self.drained.clear()
            await self.drained.wait()

    def _decided(self, events: list[Event]) -> None:
        movements = [e for e in events if isinstance(e, MovementEvent)]
        self.queue.events(movements)
        self.events.extend(movements)
        if self.hooks.on_event is not None:
            for e in events:
                self.hooks.on_event(e)

    # -- the store writes

    async def write_store(self) -> None:
        """The writer: a round when woken or every COMMIT_INTERVAL_S, until the engine is
        done and its last round is in; `stored_all` is set however it ends."""
        try:
            wake = asyncio.Event()
            self.queue.on_put = wake.set
            with ThreadPoolExecutor(1, thread_name_prefix="spool-writer") as executor:
                while not await self._write_round(executor):
                    self._dropped_told = writer.warn_dropped(self.queue, self._dropped_told)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), COMMIT_INTERVAL_S)
                    wake.clear()
            self.queue.on_put = None
        finally:
            self.stored_all.set()

    async def _write_round(self, executor: ThreadPoolExecutor) -> bool:
        """Commits what waits, in the writer's thread; True once that was the last round."""
        finished = self.computed.is_set()  # before take(): nothing put after is missed
        taken, progress = self.queue.take(), self.fed
        self.drained.set()
        lost = sum(self.queue.dropped.values())
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                executor,
                writer.commit,
                self.spool,
                self.session_id,
                taken,
                progress,
                lost,
                self.room,
            )
        except SpoolBusy as e:
            # another process (push, report) held the lock: keep the rest, retry
            self.queue.put_back(taken)
            self._busy_told = writer.warn_busy(e, self._busy_told)
            finished = False
        if self.room.last_resort and not self.stop.is_set():
            log.info("disk full: no room left for events; stopping the session")
            self.stop.set()
        return finished

    async def run_background(self) -> None:
        """The caller's job beside the session, told through `stored_all` when it is done."""
        if self.hooks.background is not None:
            await self.hooks.background(self.stored_all)

    # -- shutdown

    def finish(self) -> SessionResult:
        """Ends the session in the spool ("disk full", "stopped" or "source ended")."""
        dropped = sum(self.queue.dropped.values())
        if dropped:
            log.warning("the store fell behind: %d raw samples were not stored", dropped)
        if self.room.dropped:
            log.warning("disk full: %d raw samples found no room", self.room.dropped)
        if self.room.last_resort:
            writer.end_disk_full(self.spool, self.session_id)
        reason = "stopped" if self.stopped else "source ended"
        writer.must(
            self.spool, self.room, lambda s: s.end_session(self.session_id, time.time(), reason)
        )
        return SessionResult(
            info=self.spool.session(self.session_id),
            events=self.events,
            stats=self.engine.stats,
            covered=self.covered,
            stopped=self.stopped,
            dropped_samples=dropped + self.room.dropped,
        )


async def run_session(
    source: Source,
    engine: Engine,
    spool: Spool,
    session_id: str,
    *,
    store_samples: bool = False,
    on_event: Callable[[Event], None] | None = None,
    on_block: Callable[[ImuBlock], None] | None = None,
    stop: asyncio.Event | None = None,
    queue_size: int = 256,
    background: Callable[[asyncio.Event], Awaitable[None]] | None = None,
    writes: WriteQueue | None = None,
    wait_for_store: bool = False,
) -> SessionResult:
    """Run `source` through `engine` into `spool` until it ends or `stop` is set.

    `background(stored)` runs alongside; `stored` is set once the last event and
    sample are committed, and the session waits for the job to return. `writes`,
    if given, is the queue the caller also puts its own writes on (link records,
    aggregates) so they are committed in order by the same writer; the spool
    must not be written directly while the session runs. `wait_for_store` is for
    sources that can wait (a file or a simulation at full speed): the engine then
    waits for the store instead of letting it drop raw samples.
    """
    run = _Run(
        source,
        engine,
        spool,
        session_id,
        hooks=_Hooks(store_samples, on_event, on_block, background, wait_for_store),
        stop=stop or asyncio.Event(),
        queue=writes or WriteQueue(session_id),
        queue_size=queue_size,
    )
    await run.make_reserve()
    await run.run_jobs()
    return run.finish()


def run_until_signalled(
    main: Callable[[asyncio.Event], Awaitable[T]], received: list[signal.Signals] | None = None
) -> T:
    """Run `main(stop)` in a new event loop; SIGINT and SIGTERM set `stop`.

    A second signal while stopping interrupts for good, for a user whose
    clean shutdown is itself stuck. The signals are appended to `received`.
    """

    async def runner() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def request_stop(sig: signal.Signals) -> None:
            if received is not None:
                received.append(sig)
            if stop.is_set() and task is not None:
                task.cancel()
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop, sig)
        try:
            return await main(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(runner())
