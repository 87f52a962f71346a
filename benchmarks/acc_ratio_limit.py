"""How well an accelerometer alone can measure a mirror ratio, before any noise.

    .venv/bin/python -m benchmarks.acc_ratio_limit

Without a gyroscope the engine sees rotation through how fast gravity turns in the
sensor frame, |omega x g|, which is blind to rotation about the vertical; so the
ratio of two jerk envelopes depends on how each wrist is held, not only on how
much each turns. This takes every real movement stretch of the PADS recordings
(subjects 001-099 are never read), puts its mirror copy (benchmarks.real_sessions)
on the other wrist at ratios 0.1 and 0.35 with no rest signal at all, gravity turned
along each wrist's own orientation from an independent resting tilt (as in the
sessions' accelerometer-only variant), and prints the ratio of the engine's
accelerometer envelope peaks over the true ratio of angular speeds. The same with
gravity removed shows what is left of the copy's jerk alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.real_sessions import (
    DEFAULT_DATA,
    gravity_turning,
    mirror_copy,
    recordings,
    stretches,
)
from pipeline.engine.config import EngineConfig
from pipeline.engine.filters import ActivityEnvelope
from sensors.types import FloatArray

RATIOS = (0.1, 0.35)
LAG = 0.05  # s
PAD = 60  # rows of stillness around a movement: the envelope's filters settle there


def acc_peak(acc: FloatArray, cfg: EngineConfig) -> float:
    """Peak of the engine's accelerometer-only envelope over `acc` (m/s^2)."""
    rows = [[float(v) for v in a] + [0.0, 0.0, 0.0] for a in acc]
    env, _ = ActivityEnvelope(cfg, has_gyro=False).feed(0, rows)
    return max(e for e in env if e is not None)


def estimates(data: Path, seed: int = 1) -> dict[str, list[float]]:
    """Jerk-envelope ratio over true ratio for every stretch and ratio, with and
    without gravity."""
    cfg = EngineConfig()
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {"gravity": [], "no gravity": []}
    for rec in recordings(data):
        if int(rec.subject) < 100:
            continue
        for s in stretches(rec):
            for ratio in RATIOS:
                copy_acc, copy_gyr = mirror_copy(s, ratio, LAG)
                n = len(copy_acc) + 2 * PAD
                active_acc, active_gyr, other_acc, other_gyr = (
                    _placed(x, n) for x in (s.acc, s.gyr, copy_acc, copy_gyr)
                )
                for key, (a, o) in {
                    "gravity": (
                        active_acc + gravity_turning(active_gyr, rng),
                        other_acc + gravity_turning(other_gyr, rng),
                    ),
                    "no gravity": (active_acc, other_acc),
                }.items():
                    out[key].append(acc_peak(o, cfg) / acc_peak(a, cfg) / ratio)
    return out


def _placed(x: FloatArray, n: int) -> FloatArray:
    out = np.zeros((n, 3))
    out[PAD : PAD + len(x)] = x
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of PADS-style files")
    args = p.parse_args()
    result = estimates(args.data)
    print("accelerometer envelope ratio / true ratio, noise-free mirror copies")
    print(f"{'':<11}{'n':>5}{'p10':>7}{'p25':>7}{'p50':>7}{'p75':>7}{'p90':>7}{'|err| p50':>11}")
    for key, values in result.items():
        q = np.percentile(values, [10, 25, 50, 75, 90])
        err = float(np.median(np.abs(np.asarray(values) - 1.0)))
        print(f"{key:<11}{len(values):5d}" + "".join(f"{v:7.2f}" for v in q) + f"{err:11.1%}")


if __name__ == "__main__":
    main()
