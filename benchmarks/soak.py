"""Soak: a simulated day at full speed through the whole stack, resident memory every hour.

    .venv/bin/python benchmarks/soak.py [--hours 24] [--fs 100] [--spool-mb 256]

What runs is what `mirrorwatch monitor --store-samples` runs, minus the terminal
and InfluxDB: the simulated `home-day` (two wrists with gyro at `--fs` Hz, blocks
of 4) through `pipeline.session.run_session` with a real engine, raw samples and
events committed to a real spool in a temporary directory, hourly aggregates and
warnings (pipeline.workflows.monitoring.Monitor) stored as the hours are decided. The spool
is bounded (`--spool-mb`, like `[spool] max_mb`), so over a day the oldest raw
samples are dropped and disk use stays flat; 24 h of raw samples would be ~2.3 GB
(about 130 bytes a row with its index).

The simulator renders each wrist 10 s at a time (sensors/simulated.py), so the
day is never held in memory; its plan (the day's movements, a few thousand
strokes) is made up front, before the first sample.

Resident memory (VmRSS of this process, /proc/self/status) is read when the
session clock passes each simulated hour. PASS: every sample from hour 1 on is
within +-`--tolerance-mb` of the sample at hour 1 (the first hour holds the
start-up: imports, caches, the spool's page cache filling). The curve goes to
`--png` (default docs/soak-rss.png). Wall and CPU time are printed too; the
machine is shared, so the speed is only indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.engine import Engine
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Event, MovementEvent
from pipeline.session import run_session
from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool
from pipeline.store.write_queue import WriteQueue
from pipeline.workflows.monitoring import Monitor
from sensors.simulated import SimConfig, SimulatedSource, simulate
from sensors.types import ImuBlock

HOUR = 3600.0


def rss_mb() -> float:
    """Resident set size of this process, MB (VmRSS, kB in /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def disk_mb(spool_path: Path) -> float:
    """The spool file plus its WAL, MB."""
    files = [spool_path, spool_path.with_name(spool_path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


@dataclass(frozen=True, slots=True)
class Sample:
    hour: int
    rss: float  # MB
    disk: float  # MB, spool + WAL
    wall: float  # s since the session started
    cpu: float  # s of process CPU since the session started


def soak(args: argparse.Namespace, tmp: Path) -> tuple[list[Sample], dict[str, int], int]:
    seconds = args.hours * HOUR
    sim = simulate("home-day", SimConfig(fs=args.fs, duration=seconds, seed=args.seed))
    engine = Engine(dataclasses.replace(EngineConfig(), fs=args.fs))
    mon = Monitor()
    samples: list[Sample] = []
    spool_path = tmp / "spool.sqlite"
    with Spool(spool_path, max_bytes=int(args.spool_mb * 2**20)) as spool:
        agg = Aggregates(spool)
        info = spool.start_session(
            subject="SOAK", source="simulated", mode="monitor", started_at=time.time()
        )
        writes = WriteQueue(info.id)  # the session's writer commits the aggregates too
        clock = {"t": 0.0, "next": 0.0}
        wall0, cpu0 = time.perf_counter(), time.process_time()

        def measure(hour: int) -> None:
            s = Sample(
                hour,
                rss_mb(),
                disk_mb(spool_path),
                time.perf_counter() - wall0,
                time.process_time() - cpu0,
            )
            samples.append(s)
            print(
                f"{s.hour:4d} h  rss {s.rss:7.1f} MB  spool {s.disk:7.1f} MB"
                f"  wall {s.wall:6.0f} s  cpu {s.cpu:6.0f} s",
                flush=True,
            )

        def on_block(block: ImuBlock) -> None:
            # as `monitor` does: wear detection per block, hours stored once decided
            mon.block(block)
            if len(block) and float(block.t[-1]) > clock["t"]:
                clock["t"] = float(block.t[-1])
                rows = mon.ready(clock["t"])
                if rows:
                    writes.write(lambda _: agg.put_hours(info.id, rows))
                if warnings := mon.warnings():
                    writes.write(lambda _: agg.add_warnings(info.id, warnings))
                while clock["t"] >= clock["next"]:
                    measure(round(clock["next"] / HOUR))
                    clock["next"] += HOUR

        def on_event(event: Event) -> None:
            if isinstance(event, MovementEvent):
                mon.event(event)

        result = asyncio.run(
            run_session(
                SimulatedSource(sim, None),
                engine,
                spool,
                info.id,
                store_samples=True,
                on_event=on_event,
                on_block=on_block,
                writes=writes,
                wait_for_store=True,  # a simulation at full speed can wait, as in `monitor`
            )
        )
        agg.put_hours(info.id, mon.flush())
        agg.add_warnings(info.id, mon.warnings())
        measure(round(result.covered / HOUR))
        counts = spool.counts()
        dropped = spool.delivery_status().dropped
    if result.dropped_samples:
        print(f"the session dropped {result.dropped_samples:,} raw samples (store behind)")
    return samples, counts, sum(dropped.values())


def plot(samples: list[Sample], base: float, tolerance: float, title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [s.hour for s in samples]
    fig, ax = plt.subplots(figsize=(7.0, 3.6), dpi=110)
    ax.axhspan(base - tolerance, base + tolerance, color="tab:green", alpha=0.15, lw=0)
    ax.axhline(base, color="tab:green", lw=0.8, ls="--", label=f"hour 1 ± {tolerance:g} MB")
    ax.plot(hours, [s.rss for s in samples], "o-", color="tab:blue", ms=3, label="RSS")
    ax.set_xlabel("simulated hour")
    ax.set_ylabel("resident memory (MB)")
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, max(hours) if hours else 1)
    lo = min(min(s.rss for s in samples), base - tolerance)
    hi = max(max(s.rss for s in samples), base + tolerance)
    ax.set_ylim(lo - 2, hi + 2)
    ax2 = ax.twinx()
    ax2.plot(hours, [s.disk for s in samples], "s:", color="tab:gray", ms=2, label="spool")
    ax2.set_ylabel("spool + WAL on disk (MB)", color="tab:gray")
    ax2.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    p.add_argument("--fs", type=float, default=100.0, help="Hz per wrist")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--spool-mb", type=float, default=256.0, help="spool size bound, MiB")
    p.add_argument("--tolerance-mb", type=float, default=5.0)
    p.add_argument("--png", type=Path, default=Path("docs/soak-rss.png"))
    args = p.parse_args()
    # the bound drops the oldest raw samples every commit once full; counted below
    logging.getLogger("pipeline.store").setLevel(logging.ERROR)

    arenas = os.environ.get("MALLOC_ARENA_MAX")
    env = "" if arenas is None else f"MALLOC_ARENA_MAX={arenas}"
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()} at start {env}")
    tmp = Path(tempfile.mkdtemp(prefix="mw-soak-"))
    try:
        samples, counts, dropped = soak(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    last = samples[-1]
    rows = round(args.hours * HOUR * args.fs * 2)
    print(
        f"{args.hours:g} h of home-day, 2 wrists at {args.fs:g} Hz: {rows:,} samples in"
        f" {last.wall:.0f} s wall, {last.cpu:.0f} s CPU ({args.hours * HOUR / last.wall:.0f}x"
        f" real time); spool holds {counts['samples']:,} samples and {counts['events']:,}"
        f" events, {dropped:,} undelivered rows dropped by its {args.spool_mb:g} MiB bound"
    )
    print(f"load average {os.getloadavg()} at end")
    after = [s for s in samples if s.hour >= 1]
    if not after:
        sys.exit("run at least 1 simulated hour")
    base = after[0].rss
    worst = max(after, key=lambda s: abs(s.rss - base))
    deviation = worst.rss - base
    ok = abs(deviation) <= args.tolerance_mb
    print(
        f"rss at hour 1 {base:.1f} MB; max deviation after it {deviation:+.1f} MB"
        f" (hour {worst.hour}); peak spool on disk {max(s.disk for s in samples):.0f} MB"
    )
    title = (
        f"soak: {args.hours:g} h home-day, 2 wrists at {args.fs:g} Hz, raw samples stored,"
        f" spool bound {args.spool_mb:g} MiB {env}\nrss at hour 1 {base:.1f} MB,"
        f" max deviation after {deviation:+.1f} MB: {'PASS' if ok else 'FAIL'}"
    )
    plot(samples, base, args.tolerance_mb, title, args.png)
    print(f"figure {args.png}")
    print(f"{'PASS' if ok else 'FAIL'}: rss within ±{args.tolerance_mb:g} MB of hour 1")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
