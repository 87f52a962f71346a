"""Detection accuracy on many seeded simulator sessions: the online engine beside an offline method.

    .venv/bin/python benchmarks/accuracy.py            # the full grid (several minutes)
    .venv/bin/python benchmarks/accuracy.py --quick    # one condition per scenario
    .venv/bin/python benchmarks/accuracy.py --sensors acc  # accelerometer-only sessions

Conditions: every scenario; 50, 100, 200 Hz; gravity on/off; gyro on/off; packet
loss 0-5 %; timestamp jitter. An accelerometer has gravity in its signal unless a
gyroscope's orientation takes it out, so accelerometer-only sessions without
gravity are no real sensor: they are scored in a group of their own
("acc-only, no gravity"), outside every other. Metrics pooled over the grid (and per group):
recall, false events per minute, onset error, latency (detected_at minus true
onset), mirror sensitivity by true ratio, unimanual called mirror, bimanual
accuracy, ratio error, mirror events during walking or vibration.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable

from benchmarks.offline_baseline import detect as offline_detect
from pipeline.engine import Engine, movements
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Kind, MovementEvent
from pipeline.evaluation import Score, score
from sensors.simulated import SimConfig, Simulation, simulate

DURATION = {"firearm-drill": 420.0, "healthy": 300.0, "mirror-strong": 300.0, "home-day": 3600.0}
RATIO_BINS = ((0.05, 0.1), (0.1, 0.2), (0.2, 0.35), (0.35, 1.01))
NO_SUCH_SENSOR = "acc-only, no gravity"  # the group of sessions no sensor could give


@dataclasses.dataclass(frozen=True)
class Condition:
    scenario: str
    fs: float
    gravity: bool
    gyro: bool
    loss: float
    jitter: float
    seed: int

    def label(self) -> str:
        return (
            f"{self.scenario} {self.fs:g}Hz {'g' if self.gravity else 'lin'}"
            f" {'gyro' if self.gyro else 'acc'} loss{self.loss:.0%} jit{self.jitter * 1000:g}ms"
        )


def conditions(quick: bool) -> list[Condition]:
    scenarios = list(DURATION)
    if quick:
        return [Condition(s, 100.0, True, True, 0.0, 0.0, 1) for s in scenarios]
    grid = itertools.product((50.0, 100.0, 200.0), (True, False), (True, False))
    out = []
    for k, (fs, gravity, gyro) in enumerate(grid):
        for j, s in enumerate(scenarios):
            loss = (0.0, 0.01, 0.05)[(k + j) % 3]
            jitter = (0.0, 0.002)[(k + j) % 2]
            out.append(Condition(s, fs, gravity, gyro, loss, jitter, seed=100 + 10 * k + j))
    return out


def run(
    c: Condition, base: EngineConfig
) -> tuple[Simulation, list[MovementEvent], list[MovementEvent], float]:
    sim = simulate(
        c.scenario,
        SimConfig(
            fs=c.fs,
            duration=DURATION[c.scenario],
            gravity=c.gravity,
            gyro=c.gyro,
            loss_rate=c.loss,
            jitter=c.jitter,
            seed=c.seed,
        ),
    )
    blocks = list(sim.blocks())
    cfg = dataclasses.replace(base, fs=c.fs)
    engine = Engine(cfg)
    t0 = time.perf_counter()
    online = movements([e for b in blocks for e in engine.feed(b)] + engine.flush())
    elapsed = time.perf_counter() - t0
    offline = offline_detect(blocks, cfg)
    return sim, online, offline, elapsed


def pooled(scores: Iterable[Score]) -> Score:
    scores = list(scores)
    return Score(
        matches=[m for s in scores for m in s.matches],
        missed=[m for s in scores for m in s.missed],
        false=[e for s in scores for e in s.false],
        false_in_common_mode=sum(s.false_in_common_mode for s in scores),
        minutes=sum(s.minutes for s in scores),
        in_bouts=[e for s in scores for e in s.in_bouts],
        bout_minutes=sum(s.bout_minutes for s in scores),
    )


def common_mode_mirrors(sim: Simulation, events: list[MovementEvent]) -> int:
    return sum(
        e.kind is Kind.MIRROR and any(iv.start <= e.t_onset <= iv.end for iv in sim.common_mode)
        for e in events
    )


def row(name: str, s: Score, cm_mirrors: int, online: bool) -> str:
    err = s.onset_errors_ms()
    lat = sorted(s.latencies_ms())
    sens = []
    for lo, hi in RATIO_BINS:
        hit, n = s.mirror_sensitivity(lo, hi)
        sens.append(f"{hit / n:4.0%}" if n else "   -")
    fm, fn = s.false_mirror()
    bh, bn = s.bimanual_accuracy()
    rerr = [abs(x) for x in s.ratio_errors()]
    return (
        f"{name:<9}{s.recall:7.1%}{s.false_per_min:7.2f}"
        f"{statistics.median(err) if err else float('nan'):+8.0f}"
        + (
            f"{lat[len(lat) // 2]:7.0f}{lat[int(0.9 * len(lat))]:6.0f}"
            if online and lat
            else f"{'-':>7}{'-':>6}"
        )
        + "".join(f"{x:>6}" for x in sens)
        + f"{fm / fn if fn else 0:7.1%}{bh / bn if bn else 1:7.1%}"
        + f"{statistics.median(rerr) if rerr else float('nan'):7.1%}{cm_mirrors:6d}"
        + (f"{s.bout_events_per_min:7.1f}{s.bout_mirrors():6d}" if s.bout_minutes else "")
    )


HEADER = (
    f"{'method':<9}{'recall':>7}{'fp/min':>7}{'onset':>8}{'lat50':>7}{'lat90':>6}"
    + "".join(f"{f'r{lo:g}':>6}" for lo, _ in RATIO_BINS)
    + f"{'uni>mir':>7}{'bimanu':>7}{'r.err':>7}{'cm.mir':>6}"
)
BOUT_HEADER = f"{'bout/m':>7}{'b.mir':>6}"  # only the simulator has bouts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one condition per scenario")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per condition")
    p.add_argument(
        "--sensors",
        choices=("all", "gyro", "acc"),
        default="all",
        help="only the sessions with (gyro) or without (acc) a gyroscope",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="engine parameter to try (repeatable), e.g. --set min_on=0.02",
    )
    args = p.parse_args()
    overrides = dict(kv.split("=", 1) for kv in args.set)
    base = EngineConfig.from_mapping({k: float(v) for k, v in overrides.items()})
    groups: dict[str, dict[str, list[Score]]] = defaultdict(lambda: defaultdict(list))
    cm: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total_time = total_data = 0.0
    for c in conditions(args.quick):
        if args.sensors != "all" and c.gyro != (args.sensors == "gyro"):
            continue
        sim, on, off, elapsed = run(c, base)
        total_time += elapsed
        total_data += sim.duration
        keys = (
            ["all", c.scenario, "gyro" if c.gyro else "acc-only", f"{c.fs:g} Hz"]
            if c.gyro or c.gravity
            else [NO_SUCH_SENSOR]
        )
        for method, events in (("online", on), ("offline", off)):
            s = score(sim.truth, events, sim.duration, sim.common_mode, sim.bouts)
            for k in keys:
                groups[k][method].append(s)
                cm[k][method] += common_mode_mirrors(sim, events)
            if args.verbose:
                print(f"{c.label():<48} {method:<8} {s.summary()}")
    print("\nonset/lat in ms; r<x>: mirror sensitivity for true ratio from x; uni>mir: unimanual")
    print("called mirror; bimanu: bimanual correct; r.err: median |ratio error|; cm.mir: mirror")
    print("events during walking/vibration; bout/m: events per minute of continuous activity")
    print("(eating, typing...), b.mir: mirror events there, where no mirror was put.")
    print(f"Engine: {total_data / total_time:.0f}x real time.\n")
    for key, methods in groups.items():
        print(f"== {key}")
        print(HEADER + BOUT_HEADER)
        for method in ("online", "offline"):
            print(row(method, pooled(methods[method]), cm[key][method], method == "online"))
        print()


if __name__ == "__main__":
    main()
