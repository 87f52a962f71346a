"""Spool insert rate: raw samples and movement events per second, committed to a file on disk.

    .venv/bin/python benchmarks/spool_rate.py [--seconds 3] [--rounds 3] [--bound-mb 64]

A real `Spool` in a temporary directory on this machine's disk, with the production
settings: WAL, `synchronous=FULL` (every commit fsynced), the default size bound
(4 GiB, not reached here). Raw samples go in as the session hands them over:
blocks of 4 samples per wrist with gyro, alternating wrists, `N` samples per
`add_samples` transaction. The session's writer commits whatever waits every
0.25 s (`COMMIT_INTERVAL_S` in pipeline/session.py): 50 samples live with two
wrists at 100 Hz, up to 60 000 (its queue's bound) when it catches up. Events go
in `N` per `add_events` transaction; the session commits what one engine step
decided at once, almost always 1.

Every configuration runs `--seconds` per round, in `--rounds` rounds taken in
turn, so a neighbour's load on this shared machine falls on all of them alike;
only the calls into the spool are timed (wall clock: a commit waits for the
disk). The last line runs 1024 samples a commit against a spool held at a small
bound (`--bound-mb`), as over a long session at the bound: each commit then also
deletes the oldest rows. Goal for raw samples: >= 50 000 rows/s.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from pipeline.engine.events import Kind, MovementEvent
from pipeline.settings import DEFAULT_SPOOL_MAX_MB
from pipeline.store.spool import Spool
from sensors.types import STANDARD_GRAVITY, ImuBlock, Side

LSB_ACC = 16 * STANDARD_GRAVITY / 32768  # m/s^2 per count: values look like a sensor's
LSB_GYR = np.radians(2000.0) / 32768  # rad/s per count
FS = 100.0  # Hz per wrist
BLOCK = 4  # samples per block, as the simulated and reference sensors send them
LIVE_BATCH = 16  # blocks a commit, about what the session commits live (0.25 s at 100 Hz)
BOUND_BATCH = 256  # blocks a commit on the spool at its bound


@dataclass
class Rate:
    """Rows and seconds spent in the spool, summed over rounds."""

    label: str
    rows: int = 0
    commits: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    per_round: list[float] = field(default_factory=list)

    def line(self) -> str:
        rate = self.rows / self.seconds
        spread = f"{min(self.per_round):,.0f}-{max(self.per_round):,.0f}"
        return (
            f"{self.label:<38} {self.rows:>10,} rows {rate:>10,.0f} rows/s"
            f" (rounds {spread})  {self.seconds / self.commits * 1e3:6.2f} ms/commit"
            f"  cpu {self.cpu / self.seconds:4.0%}"
        )


class Writer(Protocol):
    def prepare(self) -> None:
        """Make the next batch (not timed)."""

    def write(self) -> int:
        """Commit the prepared batch; rows written."""


class SampleWriter:
    """Blocks of both wrists continuing one session's samples, `per_tx` blocks a commit."""

    def __init__(self, spool: Spool, session_id: str, per_tx: int, seed: int) -> None:
        self.spool = spool
        self.session_id = session_id
        self.per_tx = per_tx
        rng = np.random.default_rng(seed)
        self.acc = np.round(rng.normal(0.0, 3.0, (BLOCK, 3)) / LSB_ACC) * LSB_ACC
        self.gyr = np.round(rng.normal(0.0, 0.5, (BLOCK, 3)) / LSB_GYR) * LSB_GYR
        self.k = 0  # blocks of each wrist so far
        self.next: list[ImuBlock] = []

    def prepare(self) -> None:
        out = []
        for _ in range(self.per_tx // 2 or 1):
            t = (self.k * BLOCK + np.arange(BLOCK)) / FS
            self.k += 1
            out.append(ImuBlock(Side.L, t, self.acc, self.gyr))
            if self.per_tx > 1:
                out.append(ImuBlock(Side.R, t + 0.5 / FS, self.acc, self.gyr))
        self.next = out

    def write(self) -> int:
        return self.spool.add_samples(self.session_id, self.next)


class EventWriter:
    """Movement events of one session, `per_tx` a commit."""

    def __init__(self, spool: Spool, session_id: str, per_tx: int) -> None:
        self.spool = spool
        self.session_id = session_id
        self.per_tx = per_tx
        self.t = 0.0
        self.next: list[MovementEvent] = []

    def prepare(self) -> None:
        out: list[MovementEvent] = []
        for _ in range(self.per_tx):
            self.t += 5.0
            out.append(event(self.t, Side.L if len(out) % 2 else Side.R))
        self.next = out

    def write(self) -> int:
        return len(self.spool.add_events(self.session_id, self.next))


def event(t: float, side: Side) -> MovementEvent:
    return MovementEvent(
        t_onset=t,
        t_offset=round(t + 0.8, 3),
        active=side,
        kind=Kind.MIRROR,
        mirror_ratio=0.21,
        lag_ms=35.0,
        coupling=0.77,
        grade=2,
        peak_active=1.9,
        peak_contra=0.399,
        completeness={Side.L: 1.0, Side.R: 1.0},
        detected_at=round(t + 0.06, 3),
        decided_at=round(t + 1.1, 3),
    )


def run(rate: Rate, writer: Writer, seconds: float) -> None:
    """Commit batches for `seconds` of time spent committing; add to `rate`."""
    spent = cpu = 0.0
    rows = commits = 0
    while spent < seconds:
        writer.prepare()
        w0, c0 = time.perf_counter(), time.process_time()
        rows += writer.write()
        spent += time.perf_counter() - w0
        cpu += time.process_time() - c0
        commits += 1
    rate.rows += rows
    rate.commits += commits
    rate.seconds += spent
    rate.cpu += cpu
    rate.per_round.append(rows / spent)


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="per configuration and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bound-mb", type=float, default=64.0, help="small bound of the last line")
    p.add_argument("--dir", type=Path, help="where to put the spool (default: a temp dir)")
    args = p.parse_args()
    # the bounded spool warns of every drop; the drops are expected here
    logging.getLogger("pipeline.store").setLevel(logging.ERROR)

    tmp = Path(tempfile.mkdtemp(prefix="mw-spool-", dir=args.dir))
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()} at start; spool in {tmp}")
    try:
        with (
            Spool(tmp / "a" / "spool.sqlite", max_bytes=DEFAULT_SPOOL_MAX_MB * 2**20) as spool,
            Spool(tmp / "b" / "spool.sqlite", max_bytes=int(args.bound_mb * 2**20)) as bounded,
        ):
            jobs: list[tuple[Rate, Writer]] = []
            for per_tx in (1, LIVE_BATCH, 256, 1024, 4096):
                info = spool.start_session(
                    subject="B", source="bench", mode="bench", started_at=time.time()
                )
                w = SampleWriter(spool, info.id, per_tx, seed=per_tx)
                note = " (session, live)" if per_tx == LIVE_BATCH else ""
                label = f"samples, {per_tx * BLOCK} per commit{note}"
                jobs.append((Rate(label), w))
            for per_tx in (1, 8, 64):
                info = spool.start_session(
                    subject="B", source="bench", mode="bench", started_at=time.time()
                )
                e = EventWriter(spool, info.id, per_tx)
                note = " (session)" if per_tx == 1 else ""
                jobs.append((Rate(f"events, {per_tx} per commit{note}"), e))
            info = bounded.start_session(
                subject="B", source="bench", mode="bench", started_at=time.time()
            )
            b = SampleWriter(bounded, info.id, BOUND_BATCH, seed=0)
            w0 = time.perf_counter()
            while sum(bounded.delivery_status().dropped.values()) == 0:
                for _ in range(16):
                    b.prepare()
                    b.write()
            took = time.perf_counter() - w0
            print(f"bounded spool filled to {args.bound_mb:g} MiB in {took:.0f} s")
            jobs.append((Rate(f"samples, {BOUND_BATCH * BLOCK} per commit, at bound"), b))

            for _ in range(args.rounds):
                for rate, writer in jobs:
                    run(rate, writer, args.seconds)
            for rate, _ in jobs:
                print(rate.line())
            size = (tmp / "a" / "spool.sqlite").stat().st_size / 2**20
            print(f"spool {size:.0f} MiB, {spool.counts()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average {os.getloadavg()} at end")


if __name__ == "__main__":
    main()
