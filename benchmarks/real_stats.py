"""A resting wrist, real (PADS) beside the simulator's: the numbers to fit its rest model to.

    .venv/bin/python -m benchmarks.real_stats            # table, and docs/sim-vs-real.png
    .venv/bin/python -m benchmarks.real_stats --no-plot

Real: the seated-rest (Relaxed, 20 s) recordings of both wrists in the PADS folder
(benchmarks/real_sessions.py), less 0.5 s at each end (the start cue); subject 151's
left wrist has a strong 6.8 Hz tremor and is shown on its own, not in the typical
wrist. Simulator: sessions with no movement at all (an empty protocol), both wrists,
several seeds, cut into 20 s stretches like the real ones.

Per wrist, on the gyroscope with each 20 s stretch's per-axis mean removed (the watch
reports a bias-compensated rotation rate; the simulated sensor has a slowly varying bias,
which this removes too):

- angular speed after a zero-phase 10 Hz low-pass: 10/50/90/99th percentiles;
- fidgets: excursions of the 3 Hz-smoothed speed above 0.15 rad/s, per minute, with the
  peak (rad/s) and duration (s) of each;
- tremor band: the share of the gyro power in 3.5-12 Hz, and that band's rms (vector);
- sway: the rms (vector) of the gyro below 1 Hz.

The typical real wrist is the median over the wrists of subjects 134, 172, 183, 200 and
240 (151 excluded); the simulator's the median over its wrists. Subjects 001-099 are
reserved for validation and are not used.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from benchmarks.real_sessions import DEFAULT_DATA, FS, recordings, speed
from sensors.scenarios import plan_protocol
from sensors.simulated import SimConfig, Simulation
from sensors.types import FloatArray, Side

TYPICAL = ("134", "172", "183", "200", "240")  # seated rest without a tremor
TREMOR = "151"  # left wrist: 6.8 Hz tremor, a patient feature
STRETCH = 20.0  # s, as the real Relaxed recordings
FIDGET = 0.15  # rad/s, threshold on the 3 Hz-smoothed speed
BAND = (3.5, 12.0)  # Hz, tremor band
SWAY = 1.0  # Hz
# s cut from both ends of a real recording: at 0.26 s 9 of the 12 wrists show the same
# 50 ms spike of 0.23-0.33 rad/s (the watch's start cue), not the wrist at rest
TRIM = 0.5
SIM_SEEDS = tuple(range(12))
SIM_DURATION = 120.0  # s per seed and wrist
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "sim-vs-real.png"


@dataclass(frozen=True, slots=True)
class WristStats:
    """Resting statistics of one wrist over one or more 20 s stretches."""

    name: str
    speed: FloatArray  # rad/s, 10 Hz speed samples, pooled over the stretches
    minutes: float
    fidgets: list[tuple[float, float]]  # (peak rad/s, duration s)
    band_share: float
    band_rms: float  # rad/s
    sway_rms: float  # rad/s

    @property
    def fidget_rate(self) -> float:
        return len(self.fidgets) / self.minutes

    def pct(self, q: float) -> float:
        return float(np.percentile(self.speed, q))


def wrist_stats(name: str, stretches: Sequence[FloatArray]) -> WristStats:
    """Statistics of one wrist from its gyro stretches ((n, 3) rad/s at FS)."""
    speeds, fidgets = [], []
    band = total = slow = 0.0
    n_total = 0
    for gyr in stretches:
        g = gyr - gyr.mean(axis=0)
        speeds.append(speed(g, 10.0))
        v3 = speed(g, 3.0)
        above = np.concatenate([[False], v3 > FIDGET, [False]])
        edges = np.flatnonzero(np.diff(above.astype(np.int8)))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            fidgets.append((float(v3[a:b].max()), (b - a) / FS))
        f, p = signal.periodogram(g, fs=FS, axis=0, detrend=False, scaling="spectrum")
        p = p.sum(axis=1)  # power of the vector, per frequency
        total += float(p[1:].sum())
        band += float(p[(f >= BAND[0]) & (f <= BAND[1])].sum())
        sos = signal.butter(2, SWAY, fs=FS, output="sos")
        slow += float(np.sum(signal.sosfiltfilt(sos, g, axis=0) ** 2))
        n_total += len(g)
    minutes = n_total / FS / 60.0
    # periodogram "spectrum" scaling: the sum over frequencies of each stretch is its
    # mean square, so sums over stretches are averaged by their count
    k = len(stretches)
    return WristStats(
        name,
        np.concatenate(speeds),
        minutes,
        fidgets,
        band / total if total > 0 else 0.0,
        float(np.sqrt(band / k)),
        float(np.sqrt(slow / n_total)),
    )


def real_wrists(data: Path) -> list[WristStats]:
    out = []
    for rec in recordings(data):
        if rec.task != "Relaxed" or int(rec.subject) < 100:
            continue
        for side in Side:
            gyr = rec.gyr[side][int(TRIM * FS) : -int(TRIM * FS)]
            out.append(wrist_stats(f"{rec.subject}{side.value}", [gyr]))
    return out


def sim_wrists(
    seeds: Sequence[int] = SIM_SEEDS, duration: float = SIM_DURATION
) -> list[WristStats]:
    """The simulator's resting wrists: sessions with no movement, gyro without gravity."""
    out = []
    n = int(STRETCH * FS)
    for seed in seeds:
        cfg = SimConfig(fs=FS, duration=duration, gravity=False, seed=seed)
        sim = Simulation("rest", cfg, plan_protocol([], duration, seed))
        gyr: dict[Side, list[FloatArray]] = {Side.L: [], Side.R: []}
        for block in sim.blocks():
            assert block.gyr is not None
            gyr[block.side].append(block.gyr)
        for side in Side:
            g = np.concatenate(gyr[side])
            parts = [g[i : i + n] for i in range(0, len(g) - n + 1, n)]
            out.append(wrist_stats(f"sim{seed}{side.value}", parts))
    return out


METRICS: tuple[tuple[str, Callable[[list[WristStats]], float]], ...] = (
    ("speed p10 (rad/s)", lambda ws: statistics.median(w.pct(10) for w in ws)),
    ("speed p50 (rad/s)", lambda ws: statistics.median(w.pct(50) for w in ws)),
    ("speed p90 (rad/s)", lambda ws: statistics.median(w.pct(90) for w in ws)),
    ("speed p99 (rad/s)", lambda ws: statistics.median(w.pct(99) for w in ws)),
    ("fidgets /min", lambda ws: statistics.median(w.fidget_rate for w in ws)),
    (
        "fidgets /min, pooled",
        lambda ws: sum(len(w.fidgets) for w in ws) / sum(w.minutes for w in ws),
    ),
    ("fidget peak (rad/s)", lambda ws: _pooled(ws, 0)),
    ("fidget duration (s)", lambda ws: _pooled(ws, 1)),
    ("3.5-12 Hz power share", lambda ws: statistics.median(w.band_share for w in ws)),
    ("3.5-12 Hz rms (rad/s)", lambda ws: statistics.median(w.band_rms for w in ws)),
    ("sway <1 Hz rms (rad/s)", lambda ws: statistics.median(w.sway_rms for w in ws)),
)


def _pooled(ws: list[WristStats], k: int) -> float:
    """Median of one fidget property over every fidget of the wrists (nan if none)."""
    values = [f[k] for w in ws for f in w.fidgets]
    return statistics.median(values) if values else float("nan")


def table(groups: dict[str, list[WristStats]]) -> str:
    names = list(groups)
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"{'metric':<24}" + "".join(f"{n:>{width}}" for n in names)]
    for label, f in METRICS:
        cells = []
        for n in names:
            ws = groups[n]
            cells.append(f"{f(ws):>{width}.4g}" if ws else f"{'-':>{width}}")
        lines.append(f"{label:<24}" + "".join(cells))
    return "\n".join(lines)


def plot(
    typical: list[WristStats], tremor: list[WristStats], sim: list[WristStats], out: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=110)
    for ws, colour, label, style in (
        (typical, "tab:blue", "real wrists (134, 172, 183, 200, 240)", "-"),
        (tremor, "tab:red", "real 151 (L: 6.8 Hz tremor)", "--"),
        (sim, "tab:orange", "simulator", "-"),
    ):
        for i, w in enumerate(ws):
            x = np.sort(w.speed)
            y = np.arange(1, len(x) + 1) / len(x)
            ax1.plot(x, y, style, color=colour, lw=0.9, alpha=0.7, label=label if i == 0 else None)
        peaks = [f[0] for w in ws for f in w.fidgets]
        durations = [f[1] for w in ws for f in w.fidgets]
        ax2.scatter(durations, peaks, s=14, color=colour, alpha=0.7, label=label)
    ax1.set_xscale("log")
    ax1.set_xlabel("angular speed at rest, 10 Hz low-pass (rad/s)")
    ax1.set_ylabel("fraction of samples")
    ax1.set_title("gyro speed at rest: CDF per wrist", fontsize=9)
    ax1.legend(fontsize=7, loc="lower right")
    ax2.set_xlabel("fidget duration (s)")
    ax2.set_ylabel("fidget peak, 3 Hz speed (rad/s)")
    ax2.set_yscale("log")
    ax2.set_title(f"fidgets: 3 Hz speed above {FIDGET} rad/s", fontsize=9)
    ax2.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="PADS folder")
    ap.add_argument("--figure", type=Path, default=FIGURE)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    real = real_wrists(args.data)
    typical = [w for w in real if w.name[:3] in TYPICAL]
    tremor = [w for w in real if w.name.startswith(TREMOR)]
    sim = sim_wrists()
    print(f"real typical: {len(typical)} wrists, {sum(w.minutes for w in typical):.1f} min")
    print(f"simulator: {len(sim)} wrists, {sum(w.minutes for w in sim):.1f} min\n")
    groups = {
        "real typical": typical,
        "simulator": sim,
        "151L tremor": [w for w in tremor if w.name.endswith("L")],
        "151R": [w for w in tremor if w.name.endswith("R")],
    }
    print(table(groups))
    print("\nper real wrist: p50 p90 p99 (rad/s), fidgets/min, band share, sway rms")
    for w in real:
        print(
            f"  {w.name:<6} {w.pct(50):.4f} {w.pct(90):.4f} {w.pct(99):.4f}"
            f"  {w.fidget_rate:5.1f}  {w.band_share:.2f}  {w.sway_rms:.4f}"
        )
    if not args.no_plot:
        plot(typical, tremor, sim, args.figure)
        print(f"\nfigure: {args.figure}")


if __name__ == "__main__":
    main()
