"""False movements on real resting wrists alone: per subject, both wrists at rest.

    .venv/bin/python -m benchmarks.real_rest                 # the PADS folder
    .venv/bin/python -m benchmarks.real_rest --data DIR      # any PADS-style folder

Every seated-rest recording (`Relaxed*` tasks) of a subject numbered 100 or more
(001-099 are reserved for validation and never read) is played on both wrists for
`--minutes`, as a palindrome from a seeded start, and fed to the engine, with its
gyroscope (as recorded) and accelerometer only (gravity turned along the wrist's own
orientation, as in benchmarks.real_accuracy). Nothing moves on purpose, so every
movement event is false. Subjects the engine's constants were chosen on are marked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.real_accuracy import TUNE_SUBJECTS
from benchmarks.real_sessions import (
    DEFAULT_DATA,
    FS,
    RealSession,
    Recording,
    gravity_turning,
    looped,
    recordings,
)
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Kind
from sensors.types import Side

VARIANTS = ("recorded", "acc-only")


def rest_session(rec: Recording, variant: str, minutes: float, seed: int) -> RealSession:
    """`rec`'s rest on both wrists for `minutes`, no truth."""
    rng = np.random.default_rng([seed, int(rec.subject)])
    n = int(minutes * 60.0 * FS)
    start = int(rng.integers(0, len(rec.acc[Side.L])))
    acc = {s: looped(rec.acc[s], start, n) for s in Side}
    gyr = {s: looped(rec.gyr[s], start, n) for s in Side}
    if variant == "acc-only":
        acc = {s: acc[s] + gravity_turning(gyr[s], rng) for s in Side}
    return RealSession(f"{rec.subject}_{rec.task}/{variant}", variant, acc, gyr, [])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of PADS-style files")
    p.add_argument("--minutes", type=float, default=5.0, help="of rest per recording")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rests = [
        r for r in recordings(args.data) if r.task.startswith("Relaxed") and int(r.subject) >= 100
    ]
    if not rests:
        raise SystemExit(f"no rest recordings of subjects >= 100 in {args.data}")
    cfg = EngineConfig()
    print(f"false movements (mirror events) per minute of real rest, {args.minutes:g} min each")
    print(f"{'recording':<22}{'set':<6}" + "".join(f"{v:>18}" for v in VARIANTS))
    totals = {v: [0, 0] for v in VARIANTS}
    for rec in rests:
        cells = []
        for variant in VARIANTS:
            found = rest_session(rec, variant, args.minutes, args.seed).engine_events(cfg)
            mirrors = sum(e.kind is Kind.MIRROR for e in found)
            totals[variant][0] += len(found)
            totals[variant][1] += mirrors
            cells.append(f"{len(found) / args.minutes:9.2f} ({mirrors / args.minutes:.2f})")
        split = "tune" if rec.subject in TUNE_SUBJECTS else "held"
        print(f"{rec.subject + '_' + rec.task:<22}{split:<6}" + "".join(f"{c:>18}" for c in cells))
    minutes = args.minutes * len(rests)
    print(
        f"{'all':<28}"
        + "".join(f"{f'{e / minutes:9.2f} ({m / minutes:.2f})':>18}" for e, m in totals.values())
    )


if __name__ == "__main__":
    main()
