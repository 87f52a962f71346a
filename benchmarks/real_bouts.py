"""Continuous activity from real movements: events and mirror events per minute of bout.

    .venv/bin/python -m benchmarks.real_bouts               # the PADS folder
    .venv/bin/python -m benchmarks.real_bouts --set bout_share=1   # without bouts

A bout is what a day at home is full of (eating, dressing): both hands busy, one
movement after another. Here each hand plays real movement stretches of the PADS
task recordings back to back, chosen and paused (0.05-0.8 s) on its own, for
`--minutes` on the subject's real rest; in the one-handed variant only one hand
does, the other rests. Nothing is a copy, so every mirror event is false; the
fewer events a bout is cut into, the fewer onsets were invented in it. Subjects
001-099 are never read.
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
    Stretch,
    gravity_turning,
    looped,
    recordings,
    stretches,
)
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Kind
from sensors.types import Side

LEAD = 20.0  # s of rest before the bout and after it
PAUSE = (0.05, 0.8)  # s between two movements of a busy hand
VARIANTS = ("recorded", "acc-only")


def bout_session(
    rest: Recording,
    moves: list[Stretch],
    variant: str,
    hands: int,
    minutes: float,
    seed: int,
) -> tuple[RealSession, tuple[float, float]]:
    """`rest` on both wrists, with a bout of `hands` busy hands; the session and the
    bout's span (s)."""
    rng = np.random.default_rng([seed, int(rest.subject), hands])
    span = (LEAD, LEAD + minutes * 60.0)
    n = int((span[1] + LEAD) * FS)
    start = int(rng.integers(0, len(rest.acc[Side.L])))
    acc = {s: looped(rest.acc[s], start, n) for s in Side}
    gyr = {s: looped(rest.gyr[s], start, n) for s in Side}
    busy = list(Side) if hands == 2 else [Side.L if rng.random() < 0.5 else Side.R]
    for side in busy:
        i = int((span[0] + rng.uniform(*PAUSE)) * FS)
        while True:
            m = moves[int(rng.integers(len(moves)))]
            if i + len(m.acc) > span[1] * FS:
                break
            acc[side][i : i + len(m.acc)] += m.acc
            gyr[side][i : i + len(m.gyr)] += m.gyr
            i += len(m.acc) + int(rng.uniform(*PAUSE) * FS)
    if variant == "acc-only":
        acc = {s: acc[s] + gravity_turning(gyr[s], rng) for s in Side}
    return RealSession(f"{rest.subject}/{hands}/{variant}", variant, acc, gyr, []), span


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of PADS-style files")
    p.add_argument("--minutes", type=float, default=3.0, help="of bout per session")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    overrides = dict(kv.split("=", 1) for kv in args.set)
    cfg = EngineConfig.from_mapping({k: float(v) for k, v in overrides.items()})
    recs = [r for r in recordings(args.data) if int(r.subject) >= 100]
    rests = [r for r in recs if r.task == "Relaxed"]
    moves = [s for r in recs if r.task != "Relaxed" for s in stretches(r)]
    if not rests or not moves:
        raise SystemExit(f"no rest and movement recordings of subjects >= 100 in {args.data}")
    print(f"events (mirror events) per minute of bout, {args.minutes:g} min each; rest/min:")
    print("false events per minute of the rest around it")
    print(f"{'session':<16}{'set':<6}{'events/min':>11}{'mirror/min':>11}{'rest/min':>9}")
    totals: dict[str, list[float]] = {}
    for hands in (2, 1):
        for variant in VARIANTS:
            key = f"{hands} hand{'s' if hands == 2 else ''}, {variant}"
            total = totals.setdefault(key, [0.0, 0.0, 0.0])
            for rest in rests:
                session, (a, b) = bout_session(rest, moves, variant, hands, args.minutes, args.seed)
                found = session.engine_events(cfg)
                inside = [e for e in found if a - 0.5 <= e.t_onset <= b + 1.0]
                mirrors = sum(e.kind is Kind.MIRROR for e in inside)
                outside = len(found) - len(inside)
                total[0] += len(inside)
                total[1] += mirrors
                total[2] += outside
                split = "tune" if rest.subject in TUNE_SUBJECTS else "held"
                print(
                    f"{session.name:<16}{split:<6}{len(inside) / args.minutes:11.1f}"
                    f"{mirrors / args.minutes:11.2f}{outside / (2 * LEAD / 60.0):9.2f}"
                )
    print()
    for key, (n, m, out) in totals.items():
        minutes = args.minutes * len(rests)
        print(
            f"{key:<22}{n / minutes:11.1f}{m / minutes:11.2f}"
            f"{out / (2 * LEAD / 60.0 * len(rests)):9.2f}"
        )


if __name__ == "__main__":
    main()
