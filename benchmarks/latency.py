"""Latency: notification received -> committed to the spool, for events and raw samples.

    .venv/bin/python benchmarks/latency.py [--seconds 60] [--fs 200] [--scenario mirror-strong]

Two simulated wrists (`--fs` Hz with gyro, packets of `--block` samples) paced in
real time, through `pipeline.session.run_session` with a real engine into a real
spool (WAL, synchronous=FULL) in a temporary directory, raw samples stored too.
The blocks are rendered before the clock starts, so the simulator's own work is
not in the measurement (a BLE source decodes on arrival, which is cheap).

Definitions (wall clock, time.monotonic):
- received: a wrapper around the paced source stamps each block as the session
  takes it from the source, i.e. when a BLE notification would be put on the queue;
- event latency: from `received` of the block whose `Engine.feed` returned the
  event (the block holding the sample that completed the decision) to the return
  of the `Spool.add_events` call that committed it (fsynced). Events decided only
  by the final flush have no such block and are left out (counted);
- sample latency: from `received` of each block to the return of the
  `Spool.add_samples` call that committed its samples. The session commits samples
  in batches (~0.6 s of two wrists at 200 Hz), so this is mostly batching delay.
- pacing delay: from when a block was due (its last sample's time on the session
  clock) to `received`: how late the loop let the source run.

The decision itself waits for data (an event is final only once the movement ended
and the contralateral window is complete): that is session time, reported by the
engine as `decided_at - t_onset`, not part of this benchmark. The machine is
shared: the load average is printed with the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from pipeline.engine import Engine
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Event, MovementEvent
from pipeline.session import run_session
from pipeline.store.spool import Spool
from sensors.simulated import SimConfig, simulate
from sensors.source import paced
from sensors.types import ImuBlock, Side

Key = tuple[Side, float]  # a block: its side and last sample time


def key(block: ImuBlock) -> Key:
    return block.side, float(block.t[-1])


class Stamps:
    """Wall times per block and the latencies measured from them."""

    def __init__(self) -> None:
        self.received: dict[Key, float] = {}
        self.due: dict[Key, float] = {}
        self.origin: dict[int, tuple[MovementEvent, Key]] = {}  # id(event) -> its block
        self.event_ms: list[float] = []
        self.sample_ms: list[float] = []
        self.unattributed = 0


class StampedSource:
    """Pre-rendered blocks paced in real time, each stamped as the session takes it."""

    def __init__(self, blocks: list[ImuBlock], stamps: Stamps) -> None:
        self._blocks = blocks
        self._stamps = stamps

    async def blocks(self) -> AsyncIterator[ImuBlock]:
        start = time.monotonic()
        async for block in paced(self._blocks, 1.0):
            if len(block):
                k = key(block)
                self._stamps.received[k] = time.monotonic()
                self._stamps.due[k] = start + k[1]
            yield block


class TimedEngine:
    """The engine, remembering which block's feed() decided each movement event.

    A wrapper, not a subclass: interpreted classes cannot inherit from the compiled
    Engine (mypyc), and the benchmark must run on the build users have.
    """

    def __init__(self, cfg: EngineConfig, stamps: Stamps) -> None:
        self._engine = Engine(cfg)
        self._stamps = stamps

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def feed(self, block: ImuBlock) -> list[Event]:
        events = self._engine.feed(block)
        for e in events:
            if isinstance(e, MovementEvent) and len(block):
                self._stamps.origin[id(e)] = (e, key(block))
        return events


class TimedSpool(Spool):
    """The spool, timing each commit's return against its blocks' arrival."""

    def __init__(self, path: Path, stamps: Stamps) -> None:
        super().__init__(path)
        self.stamps = stamps

    def add_events(self, session_id: str, events: Sequence[MovementEvent]) -> list[int]:
        ids = super().add_events(session_id, events)
        now = time.monotonic()
        for e in events:
            origin = self.stamps.origin.get(id(e))
            if origin is None or origin[0] is not e:
                self.stamps.unattributed += 1
                continue
            self.stamps.event_ms.append((now - self.stamps.received[origin[1]]) * 1e3)
        return ids

    def add_samples(self, session_id: str, blocks: Sequence[ImuBlock]) -> int:
        rows = super().add_samples(session_id, blocks)
        now = time.monotonic()
        for b in blocks:
            if len(b):
                self.stamps.sample_ms.append((now - self.stamps.received[key(b)]) * 1e3)
        return rows


def summary(label: str, ms: Sequence[float]) -> str:
    if not ms:
        return f"{label:<28} n 0"
    a = np.asarray(ms)
    p50, p99 = np.percentile(a, [50, 99])
    return f"{label:<28} n {len(a):6d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  max {a.max():7.1f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="s of real time")
    p.add_argument("--fs", type=float, default=200.0, help="Hz per wrist")
    p.add_argument("--block", type=int, default=4, help="samples per packet")
    p.add_argument("--scenario", default="mirror-strong", help="about 10 movements a minute")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    sim = simulate(
        args.scenario,
        SimConfig(fs=args.fs, duration=args.seconds, block_size=args.block, seed=args.seed),
    )
    blocks = list(sim.blocks())
    stamps = Stamps()
    tmp = Path(tempfile.mkdtemp(prefix="mw-latency-"))
    load0 = os.getloadavg()
    try:
        spool = TimedSpool(tmp / "spool.sqlite", stamps)
        with spool:
            info = spool.start_session(
                subject="LAT", source="simulated", mode="monitor", started_at=time.time()
            )
            timed = TimedEngine(dataclasses.replace(EngineConfig(), fs=args.fs), stamps)
            engine = cast(Engine, timed)  # run_session uses feed, flush and attributes
            wall0, cpu0 = time.perf_counter(), time.process_time()
            result = asyncio.run(
                run_session(
                    StampedSource(blocks, stamps), engine, spool, info.id, store_samples=True
                )
            )
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            counts = spool.counts()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pacing = [(stamps.received[k] - stamps.due[k]) * 1e3 for k in stamps.received]
    print(
        f"{args.seconds:g} s of {args.scenario}, 2 wrists at {args.fs:g} Hz in packets of"
        f" {args.block}, paced in real time: {len(blocks)} blocks, {counts['samples']:,}"
        f" samples and {len(result.events)} events stored; {wall:.1f} s wall,"
        f" CPU {cpu / wall:.0%} of one core"
    )
    print(f"cpus {os.cpu_count()}, load average {load0} at start, {os.getloadavg()} at end")
    print(summary("event: received -> commit", stamps.event_ms))
    print(summary("samples: received -> commit", stamps.sample_ms))
    print(summary("pacing: due -> received", pacing))
    if stamps.unattributed:
        print(f"{stamps.unattributed} events decided by the final flush, not timed")


if __name__ == "__main__":
    main()
