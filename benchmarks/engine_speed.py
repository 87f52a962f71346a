"""Engine speed: real-time factor on a simulated two-wrist session, and two offline ratios.

    .venv/bin/python benchmarks/engine_speed.py [--minutes 60] [--fs 100] [--block 4]

Blocks are made a minute ahead at a time, so only the engine is timed, in CPU time
of this process (less sensitive than wall time to other load on a shared machine).
Two yardsticks run on the same samples in the same run:

- the same engine fed the whole session as one block per side (`max_wait`
  infinite, so it waits for both): same events, same per-row Python work, so
  online/whole is what cutting the stream into small blocks costs;
- one whole-array `scipy.signal.sosfilt` per side (the envelope's low-pass),
  the cheapest offline pass over the data. A streaming engine in Python rows
  cannot come near it (that is compiled code over one array): online/sosfilt
  says how far, not whether something is wrong.

Shared machines are noisy: compare ratios from one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import time
import tracemalloc
from collections.abc import Iterator

import numpy as np
from scipy import signal

from pipeline.compiled import ENGINE_MODULES, compiled_modules
from pipeline.engine import Engine, movements
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Event
from pipeline.engine.filters import Biquad3
from sensors.simulated import SimConfig, simulate
from sensors.types import FloatArray, ImuBlock, Side


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--fs", type=float, default=100.0)
    p.add_argument("--block", type=int, default=4)
    p.add_argument("--scenario", default="home-day")
    args = p.parse_args()

    seconds = args.minutes * 60
    sim = simulate(args.scenario, SimConfig(fs=args.fs, duration=seconds, block_size=args.block))
    cfg = dataclasses.replace(EngineConfig(), fs=args.fs)
    online, events = _online(cfg, sim.blocks())
    t0 = time.process_time()
    blocks = list(sim.blocks())
    gen = time.process_time() - t0
    n_samples = sum(len(b) for b in blocks)

    # memory in separate passes (tracing slows everything): a bound does not grow with length
    peaks = [_traced_peak(cfg, blocks[: len(blocks) // k]) for k in (4, 1)]

    whole = _whole_sides(blocks)
    batch_engine = Engine(dataclasses.replace(cfg, max_wait=math.inf))
    t0 = time.process_time()
    batch = [e for b in whole for e in batch_engine.feed(b)] + batch_engine.flush()
    offline_engine = time.process_time() - t0

    sos = signal.butter(4, cfg.gyro_lowpass, fs=args.fs, output="sos")  # the envelope's
    t0 = time.process_time()
    for b in whole:
        signal.sosfilt(sos, b.acc if b.gyr is None else b.gyr, axis=0)
    offline = time.process_time() - t0
    online_filter = _filter_online(sos, blocks)

    print(
        f"session        {seconds:.0f} s of {args.scenario}, {args.fs:g} Hz, blocks of {args.block}"
    )
    built = len(compiled_modules())
    state = "compiled (mypyc)" if built == len(ENGINE_MODULES) else "INTERPRETED (no build)"
    print(f"engine build   {state}: {built} of {len(ENGINE_MODULES)} modules compiled")
    print(f"samples        {n_samples} in {len(blocks)} blocks (generated in {gen:.1f} s)")
    print(f"engine         {online:.2f} s -> {seconds / online:.0f}x real time")
    print(f"per block      {online / len(blocks) * 1e6:.1f} us")
    print(f"whole session  {offline_engine:.2f} s (same engine, one block per side)")
    print(f"online/whole   {online / offline_engine:.2f}")
    print(f"offline filter {offline * 1000:.1f} ms (whole-array sosfilt, both sides)")
    print(f"online/sosfilt {online / offline:.0f}")
    print(
        f"filter stage   {online_filter * 1000:.1f} ms (the engine's Biquad3 on the same rows,"
        f" block by block) -> online/sosfilt {online_filter / offline:.1f}"
    )
    print(
        f"engine memory  peak {peaks[0] / 1e6:.2f} MB over 1/4 of the session,"
        f" {peaks[1] / 1e6:.2f} MB over all of it"
    )
    print(f"movements      {len(movements(events))} (whole session: {len(movements(batch))})")


def _online(cfg: EngineConfig, stream: Iterator[ImuBlock]) -> tuple[float, list[Event]]:
    """CPU seconds the engine takes over the stream, blocks made ahead a slice at a time.

    Slices, not the whole session: an hour of blocks held in memory would tax the
    engine's allocations (every full garbage collection walks them all), and a live
    engine never holds more than a packet.
    """
    engine = Engine(cfg)
    events: list[Event] = []
    spent = 0.0
    while part := list(itertools.islice(stream, 6000)):  # 1 min of a pair at 100 Hz
        t0 = time.process_time()
        for b in part:
            events.extend(engine.feed(b))
        spent += time.process_time() - t0
    t0 = time.process_time()
    events.extend(engine.flush())
    return spent + time.process_time() - t0, events


def _filter_online(sos: FloatArray, blocks: list[ImuBlock]) -> float:
    """CPU seconds of the same low-pass as the engine runs it: Biquad3s, block by block.

    Rows are made ahead as the aligner hands them over (Python floats), so this is
    the filtering alone, streamed, against the one `sosfilt` call over each side.
    """
    spent = 0.0
    for side in Side:
        parts = [
            [(r[0], r[1], r[2]) for r in (b.acc if b.gyr is None else b.gyr).tolist()]
            for b in blocks
            if b.side is side
        ]
        first, second = (Biquad3(section) for section in sos)
        t0 = time.process_time()
        for rows in parts:
            second.feed(first.feed(rows))
        spent += time.process_time() - t0
    return spent


def _whole_sides(blocks: list[ImuBlock]) -> list[ImuBlock]:
    """Each side's blocks joined into one, as an offline reader would see the file."""
    out = []
    for side in Side:
        mine = [b for b in blocks if b.side is side]
        gyr = [b.gyr for b in mine if b.gyr is not None]
        out.append(
            ImuBlock(
                side=side,
                t=np.concatenate([b.t for b in mine]),
                acc=np.vstack([b.acc for b in mine]),
                gyr=np.vstack(gyr) if len(gyr) == len(mine) else None,
                lost=sum(b.lost for b in mine),
            )
        )
    return out


def _traced_peak(cfg: EngineConfig, blocks: list[ImuBlock]) -> int:
    engine = Engine(cfg)
    tracemalloc.start()
    for b in blocks:
        engine.feed(b)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


if __name__ == "__main__":
    main()
