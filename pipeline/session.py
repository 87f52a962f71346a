"""Asyncio orchestration: a source, the engine and the spool, joined by bounded queues.

One task reads the source, one feeds the engine, one stores. Queues are bounded
so a slow store slows the source down instead of growing memory. Stopping (a
signal, or the source ending) drains in order: the source stops, the engine is
flushed, every decided event is committed, then the session is closed.

A `background` job (for example continuous delivery to InfluxDB) runs beside
them and is told, through the event it receives, when everything is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pipeline.engine import Engine, EngineStats
from pipeline.events import Event, MovementEvent
from pipeline.store.spool import SessionInfo, Spool
from sensors.source import Source
from sensors.types import ImuBlock

T = TypeVar("T")

_SAMPLE_BATCH = 64  # blocks per sample transaction: one commit per ~1 s of two wrists


@dataclass(frozen=True, slots=True)
class SessionResult:
    """What a finished session produced."""

    info: SessionInfo
    events: list[MovementEvent]
    stats: EngineStats
    covered: float  # s of session time the source delivered
    stopped: bool  # ended by a stop request rather than by the source


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
) -> SessionResult:
    """Run `source` through `engine` into `spool` until it ends or `stop` is set.

    `background(stored)` runs alongside; `stored` is set once the last event and
    sample are committed, and the session waits for the job to return.
    """
    stop = stop or asyncio.Event()
    blocks: asyncio.Queue[ImuBlock | _Done] = asyncio.Queue(queue_size)
    outputs: asyncio.Queue[list[Event] | ImuBlock | _Done] = asyncio.Queue(queue_size)
    covered = 0.0
    stopped = False

    async def read() -> None:
        nonlocal covered, stopped
        iterator = source.blocks()
        try:
            async for block in iterator:
                if stop.is_set():
                    stopped = True
                    break
                if len(block):
                    covered = max(covered, float(block.t[-1]))
                await blocks.put(block)
        finally:
            # closes a BLE or file source promptly, also when cancelled
            with contextlib.suppress(AttributeError):
                await iterator.aclose()  # type: ignore[attr-defined]
            await blocks.put(_DONE)

    async def compute() -> None:
        while not isinstance(block := await blocks.get(), _Done):
            if on_block is not None:
                on_block(block)
            if store_samples:
                await outputs.put(block)
            events = engine.feed(block)
            if events:
                await outputs.put(events)
        await outputs.put(engine.flush())
        await outputs.put(_DONE)

    stored: list[MovementEvent] = []

    async def store() -> None:
        pending: list[ImuBlock] = []
        while not isinstance(item := await outputs.get(), _Done):
            if isinstance(item, ImuBlock):
                pending.append(item)
                if len(pending) >= _SAMPLE_BATCH:
                    spool.add_samples(session_id, pending)
                    pending.clear()
                continue
            movements = [e for e in item if isinstance(e, MovementEvent)]
            if movements:
                spool.add_events(session_id, movements)
                stored.extend(movements)
            if on_event is not None:
                for e in item:
                    on_event(e)
        spool.add_samples(session_id, pending)

    stored_all = asyncio.Event()

    async def store_then_signal() -> None:
        try:
            await store()
        finally:
            stored_all.set()

    jobs: list[Awaitable[None]] = [read(), compute(), store_then_signal()]
    if background is not None:
        jobs.append(background(stored_all))
    await asyncio.gather(*jobs)
    spool.end_session(session_id, time.time())
    return SessionResult(
        info=spool.session(session_id),
        events=stored,
        stats=engine.stats,
        covered=covered,
        stopped=stopped,
    )


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run `main(stop)` in a new event loop; SIGINT and SIGTERM set `stop`.

    A second signal while stopping interrupts for good, for a user whose
    clean shutdown is itself stuck.
    """

    async def runner() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def request_stop() -> None:
            if stop.is_set() and task is not None:
                task.cancel()
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop)
        try:
            return await main(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(runner())
