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
from pipeline.store.spool import Spool, SpoolBusy, SpoolGone
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
    stop = stop or asyncio.Event()
    queue = writes or WriteQueue(session_id)
    blocks: asyncio.Queue[ImuBlock | _Done] = asyncio.Queue(queue_size)
    covered = 0.0
    fed = 0.0  # session time of the newest block the engine has seen
    stopped = False
    computed = asyncio.Event()
    room = asyncio.Event()  # set whenever the writer has taken what was waiting
    # A source that can wait needs no more than two commits' worth queued: holding
    # the whole bound would only keep ~10 MB of blocks alive for nothing.
    patience = min(queue.max_samples, 2 * writer.COMMIT_SAMPLES)
    stored: list[MovementEvent] = []
    room_state = writer.Room()
    if not await asyncio.to_thread(spool.guard.make_reserve):
        log.warning(
            "no room for the spool's reserve (%d kB) in %s: a full disk may end "
            "this session without its last events",
            disk.RESERVE_BYTES // 1024,
            spool.path.parent,
        )

    async def pump(iterator: AsyncIterator[ImuBlock]) -> None:
        nonlocal covered, stopped
        async for block in iterator:
            if stop.is_set():
                stopped = True
                break
            if len(block):
                covered = max(covered, float(block.t[-1]))
            await blocks.put(block)

    async def read() -> None:
        nonlocal stopped
        iterator = source.blocks()
        pumping = asyncio.create_task(pump(iterator))
        # A stop must not wait for the next block: with both wrists silent there is none.
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait((pumping, stopping), return_when=asyncio.FIRST_COMPLETED)
            if not pumping.done():
                stopped = True
        finally:
            stopping.cancel()
            pumping.cancel()  # where the source waits; nothing if it has ended
            await asyncio.wait((pumping,))  # the source is not running when closed
            failure = None if pumping.cancelled() else pumping.exception()
            # closes a BLE or file source promptly, also when cancelled
            with contextlib.suppress(AttributeError):
                await iterator.aclose()  # type: ignore[attr-defined]
            await blocks.put(_DONE)
        if failure is not None:
            raise failure  # the source's own error

    def decided(events: list[Event]) -> None:
        movements = [e for e in events if isinstance(e, MovementEvent)]
        queue.events(movements)
        stored.extend(movements)
        if on_event is not None:
            for e in events:
                on_event(e)

    async def compute() -> None:
        nonlocal fed
        try:
            while not isinstance(block := await blocks.get(), _Done):
                if on_block is not None:
                    on_block(block)
                if store_samples:
                    while wait_for_store and queue.waiting_samples + len(block) > patience:
                        room.clear()
                        await room.wait()
                    queue.samples(block)
                if len(block):
                    fed = max(fed, float(block.t[-1]))
                decided(engine.feed(block))
            decided(engine.flush())
        finally:
            computed.set()
            if queue.on_put is not None:
                queue.on_put()  # the writer's last round need not wait for its timer

    stored_all = asyncio.Event()

    async def store() -> None:
        wake = asyncio.Event()
        queue.on_put = wake.set
        loop = asyncio.get_running_loop()
        warned = (-writer.DROP_WARNING_S, 0)
        busy = -writer.DROP_WARNING_S
        with ThreadPoolExecutor(1, thread_name_prefix="spool-writer") as executor:
            while True:
                finished = computed.is_set()  # before take(): nothing put after is missed
                taken, progress = queue.take(), fed
                room.set()
                lost = sum(queue.dropped.values())
                try:
                    await loop.run_in_executor(
                        executor,
                        writer.commit,
                        spool,
                        session_id,
                        taken,
                        progress,
                        lost,
                        room_state,
                    )
                except SpoolBusy as e:
                    # another process (push, report) held the lock: keep the rest, retry
                    queue.put_back(taken)
                    busy = writer.warn_busy(e, busy)
                    finished = False
                if room_state.last_resort and not stop.is_set():
                    log.info("disk full: no room left for events; stopping the session")
                    stop.set()
                if finished:
                    break
                warned = writer.warn_dropped(queue, warned)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), COMMIT_INTERVAL_S)
                wake.clear()
        queue.on_put = None

    async def store_then_signal() -> None:
        try:
            await store()
        finally:
            stored_all.set()

    async def beside() -> None:
        if background is not None:
            await background(stored_all)

    try:
        # A TaskGroup, not gather: if one job fails, the others are cancelled and
        # awaited, so the writer thread is done before the caller closes the spool.
        async with asyncio.TaskGroup() as group:
            for job in (read(), compute(), store_then_signal(), beside()):
                group.create_task(job)
    except ExceptionGroup as failed:
        first = failed.exceptions[0]  # the first failure tells the story
        if isinstance(first, SpoolGone):
            raise SpoolGone(
                f"{first}: session {session_id} stopped; the next start in that "
                "directory closes it as interrupted"
            ) from None
        raise first from None
    dropped = sum(queue.dropped.values())
    if dropped:
        log.warning("the store fell behind: %d raw samples were not stored", dropped)
    if room_state.dropped:
        log.warning("disk full: %d raw samples found no room", room_state.dropped)
    if room_state.last_resort:
        writer.end_disk_full(spool, session_id)
    reason = "stopped" if stopped else "source ended"
    writer.must(spool, room_state, lambda s: s.end_session(session_id, time.time(), reason))
    return SessionResult(
        info=spool.session(session_id),
        events=stored,
        stats=engine.stats,
        covered=covered,
        stopped=stopped,
        dropped_samples=dropped + room_state.dropped,
    )


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
