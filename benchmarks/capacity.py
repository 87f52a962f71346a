"""Capacity: how many wrist pairs one gateway process carries in real time before it falls behind.

    .venv/bin/python benchmarks/capacity.py [--seconds 30] [--fs 100] [--max-pairs 256]

N simulated pairs (two wrists each, `--fs` Hz with gyro, packets of 4 samples,
`home-day` with a different seed per pair) run at once in one asyncio loop, each
its own `pipeline.session.run_session` with its own engine, paced in real time
for `--seconds`; N = 1, 2, 4, 8, ... up to the first N that fails, then
`--refine` bisection steps between it and the last N that kept up. A gateway has
one data directory, so all pairs write to one spool file, each session through its own connection (a
session's writer thread owns its `Spool` while it runs; SQLite lets one
connection write at a time and the others wait for the lock). Raw samples are
stored (`monitor --store-samples`, the heavier case) unless `--no-samples`. The
blocks are rendered before the clock starts, so the simulator's work is not
counted against the gateway.

Lag: for each block, wall time when its pair's engine has processed it minus the
time it was due (its last sample's time after the common start). A step keeps
up when the largest lag stays under `--lag-limit` s, the lag at the end is not
more than 0.5 s above the lag after the first second (not growing), and the
store dropped no raw samples (the session drops the oldest when its writer
falls behind) and no session failed (e.g. its spool lock wait timed out). CPU count,
load average and this process's CPU use are printed per step: on the shared
2-core machine other work competes, so the answer is a lower bound for an idle
gateway of this size.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from pipeline.engine import Engine
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Event
from pipeline.session import SessionResult, run_session
from pipeline.store.spool import Spool
from sensors.simulated import SimConfig, simulate
from sensors.source import paced
from sensors.types import ImuBlock


class Clock:
    """The common start of all pairs, set when the step begins."""

    start = 0.0


class PacedSource:
    """Pre-rendered blocks, yielded when due after the common start."""

    def __init__(self, blocks: list[ImuBlock]) -> None:
        self._blocks = blocks

    async def blocks(self) -> AsyncIterator[ImuBlock]:
        # paced() starts its clock at the first block: wait for the common start first
        delay = Clock.start - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        async for block in paced(self._blocks, 1.0):
            yield block


class LagEngine:
    """The engine, recording each block's lag once it has been processed.

    A wrapper, not a subclass: interpreted classes cannot inherit from the compiled
    Engine (mypyc), and the benchmark must run on the build users have.
    """

    def __init__(self, cfg: EngineConfig) -> None:
        self._engine = Engine(cfg)
        self.lags: list[tuple[float, float]] = []  # (due, lag) in s after the start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def feed(self, block: ImuBlock) -> list[Event]:
        events = self._engine.feed(block)
        if len(block):
            due = float(block.t[-1])
            self.lags.append((due, time.monotonic() - Clock.start - due))
        return events


@dataclass(frozen=True, slots=True)
class Step:
    pairs: int
    max_lag: float  # s
    first_lag: float  # s, largest lag in the first second
    end_lag: float  # s, largest lag in the last second
    dropped: int  # raw samples the sessions did not store
    samples: int  # raw samples stored
    events: int
    drain: float  # s from the last block due to every session done
    cpu: float  # process CPU s / wall s (cores used)
    load: tuple[float, float, float]
    failed: list[str]  # sessions that ended with an error, e.g. the spool's lock timed out

    @property
    def keeps_up(self) -> bool:
        return self.end_lag <= self.first_lag + 0.5 and self.dropped == 0 and not self.failed

    def line(self) -> str:
        return (
            f"{self.pairs:4d} pairs  lag max {self.max_lag * 1e3:7.0f} ms,"
            f" first s {self.first_lag * 1e3:6.0f} ms, last s {self.end_lag * 1e3:7.0f} ms"
            f"  drain {self.drain:5.1f} s  samples {self.samples:>9,} stored"
            f" {self.dropped:>8,} dropped  events {self.events:4d}"
            f"  cpu {self.cpu:4.2f} cores  load {self.load[0]:.1f}"
            + (
                f"\n      {len(self.failed)} sessions failed: {self.failed[0]}"
                if self.failed
                else ""
            )
        )


async def run_step(
    blocks: list[list[ImuBlock]], cfg: EngineConfig, path: Path, store_samples: bool
) -> tuple[list[SessionResult | BaseException], list[LagEngine], float, int]:
    spools = [Spool(path) for _ in blocks]
    try:
        infos = [
            s.start_session(
                subject=f"P{i:03d}", source="simulated", mode="monitor", started_at=time.time()
            )
            for i, s in enumerate(spools)
        ]
        engines = [LagEngine(cfg) for _ in blocks]
        Clock.start = time.monotonic() + 0.5
        # every session must have finished, its writer thread too, before the
        # connections close: one failing session must not cut the others short
        results = await asyncio.gather(
            *(
                run_session(
                    PacedSource(b), cast(Engine, e), s, info.id, store_samples=store_samples
                )
                for b, e, s, info in zip(blocks, engines, spools, infos, strict=True)
            ),
            return_exceptions=True,
        )
        done = time.monotonic() - Clock.start
        stored = spools[0].counts()["samples"]
    finally:
        for s in spools:
            s.close()
    return results, engines, done, stored


def run_pairs(blocks: list[list[ImuBlock]], cfg: EngineConfig, store_samples: bool) -> Step:
    """One step: these pairs at once, in real time, into one fresh spool file."""
    tmp = Path(tempfile.mkdtemp(prefix="mw-capacity-"))
    load = os.getloadavg()
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        results, engines, done, stored = asyncio.run(
            run_step(blocks, cfg, tmp / "spool.sqlite", store_samples)
        )
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    done_ok = [r for r in results if isinstance(r, SessionResult)]
    lags = np.array([x for e in engines for x in e.lags])
    due, lag = lags[:, 0], lags[:, 1]
    return Step(
        pairs=len(blocks),
        max_lag=float(lag.max()),
        first_lag=float(lag[due <= 1.0].max()),
        end_lag=float(lag[due >= due.max() - 1.0].max()),
        dropped=sum(r.dropped_samples for r in done_ok),
        samples=stored,
        events=sum(len(r.events) for r in done_ok),
        drain=done - float(due.max()),
        cpu=cpu,
        load=load,
        failed=[f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)],
    )


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0, help="s of real time per step")
    p.add_argument("--fs", type=float, default=100.0, help="Hz per wrist")
    p.add_argument("--min-pairs", type=int, default=1, help="first N")
    p.add_argument("--max-pairs", type=int, default=256)
    p.add_argument("--lag-limit", type=float, default=1.0, help="s")
    p.add_argument("--scenario", default="home-day")
    p.add_argument("--no-samples", action="store_true", help="events only, no raw samples")
    p.add_argument("--refine", type=int, default=2, help="bisection steps after the first failure")
    args = p.parse_args()

    cfg = dataclasses.replace(EngineConfig(), fs=args.fs)
    rendered: list[list[ImuBlock]] = []
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()} at start")
    steps: list[Step] = []

    def measure(n: int) -> bool:
        while len(rendered) < n:
            sim = simulate(
                args.scenario, SimConfig(fs=args.fs, duration=args.seconds, seed=len(rendered))
            )
            rendered.append(list(sim.blocks()))
        step = run_pairs(rendered[:n], cfg, not args.no_samples)
        steps.append(step)
        print(step.line(), flush=True)
        return step.keeps_up and step.max_lag <= args.lag_limit

    good, n = 0, args.min_pairs
    while n <= args.max_pairs and measure(n):
        good, n = n, n * 2
    for _ in range(args.refine if n <= args.max_pairs else 0):
        mid = (good + n) // 2
        if mid in (good, n):
            break
        if measure(mid):
            good = mid
        else:
            n = mid
    ok = [s.pairs for s in steps if s.keeps_up and s.max_lag <= args.lag_limit]
    what = "events only" if args.no_samples else "raw samples stored"
    print(
        f"largest N that keeps up: {max(ok) if ok else 0} pairs at {args.fs:g} Hz ({what});"
        f" load average {os.getloadavg()} at end"
    )


if __name__ == "__main__":
    main()
