"""Detection accuracy on sessions built from real two-wrist recordings (PADS).

    .venv/bin/python -m benchmarks.real_accuracy               # tune and held-out sets
    .venv/bin/python -m benchmarks.real_accuracy -v            # one line per session
    .venv/bin/python -m benchmarks.real_accuracy --data DIR    # other PADS-style files
    .venv/bin/python -m benchmarks.real_accuracy --more-rest DIR   # more held-out rest

Sessions (benchmarks/real_sessions.py): each subject's real seated rest on both
wrists, with real movement stretches placed on it as unimanual, mirror (ratios
0.05-0.35, lags 20-120 ms) and bimanual trials; variants as recorded, with gravity
added back, and accelerometer only. The online engine, the offline reference and
the published peer method are scored on the same sessions in one run.

Subjects are split: the tune set (TUNE_SUBJECTS, what the detector's constants were
chosen on) and the held-out set (every other subject in the data). PADS subjects
001-099 are reserved for validation and are never in the tune set.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.accuracy import HEADER, pooled, row
from benchmarks.offline_baseline import detect as offline_detect
from benchmarks.peer_m4x28 import classify_session
from benchmarks.real_sessions import (
    DEFAULT_DATA,
    FS,
    VARIANTS,
    RealSession,
    Recording,
    Stretch,
    build,
    recordings,
    standard_trials,
    stretches,
)
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Kind, MovementEvent
from pipeline.evaluation import Score, score

# The subjects the engine's constants were chosen on: three of the six rest recordings
# (one with a strong tremor of one hand) and half of the movement recordings.
TUNE_SUBJECTS = frozenset({"130", "134", "151", "156", "160", "183", "202", "207"})
SEEDS = (1, 2)


@dataclasses.dataclass(frozen=True)
class Extra:
    """What `Score` does not split: false events inside true movements and in rest."""

    inside: int  # false events starting within a true movement: extra onsets
    rest: int  # false events starting in rest
    rest_minutes: float
    movements: int


def extra(session: RealSession, s: Score) -> Extra:
    spans = [(t.onset, t.offset + 0.25) for t in session.truth]
    inside = sum(any(a <= e.t_onset <= b for a, b in spans) for e in s.false)
    busy = sum(b - a for a, b in spans)
    return Extra(inside, len(s.false) - inside, (session.duration - busy) / 60.0, len(spans))


def sessions(
    data: Path, tune: bool, seeds: tuple[int, ...], more_rest: Path | None = None
) -> list[RealSession]:
    """Every rest subject of the split, every variant, every seed; `more_rest` holds
    more seated-rest recordings, for held-out sessions only (subjects 001-099 and the
    tune subjects are left out)."""
    recs = [r for r in recordings(data) if (r.subject in TUNE_SUBJECTS) == tune]
    rests = [r for r in recs if r.task == "Relaxed"]
    if more_rest is not None and not tune:
        rests += [
            r
            for r in recordings(more_rest)
            if r.task.startswith("Relaxed")
            and int(r.subject) >= 100
            and r.subject not in TUNE_SUBJECTS
            and (r.subject, r.task) not in {(x.subject, x.task) for x in rests}
        ]
    moves = [s for r in recs if r.task != "Relaxed" for s in stretches(r)]
    if not rests or not moves:
        return []
    out = []
    for rest in rests:
        for variant in VARIANTS:
            for seed in seeds:
                out.append(_session(rest, moves, variant, seed))
    return out


def _session(rest: Recording, moves: list[Stretch], variant: str, seed: int) -> RealSession:
    key = 1000 * seed + int(rest.subject)
    trials = standard_trials(np.random.default_rng(key))
    return build(f"{rest.subject}/{variant}/{seed}", rest, moves, variant, key, trials)


def run(session: RealSession, cfg: EngineConfig) -> tuple[list[MovementEvent], list[MovementEvent]]:
    return session.engine_events(cfg), offline_detect(list(session.blocks()), cfg)


def trial_calls(session: RealSession, mirror: list[bool]) -> dict[str, list[bool]]:
    """Per column of TRIAL_HEADER, whether each relevant trial was called mirror."""
    out: dict[str, list[bool]] = defaultdict(list)
    for t, called in zip(session.truth, mirror, strict=True):
        if t.kind == "mirror":
            lo = max(r for r in RATIO_BINS if t.ratio >= 0.8 * r)  # the nominal ratio's bin
            out[f"r{lo:g}"].append(called)
        else:
            out[t.kind].append(called)
    return out


def windows(session: RealSession) -> list[tuple[float, float]]:
    """Each trial's window: its movement with 0.3 s either side."""
    return [(t.onset - 0.3, t.offset + 0.3) for t in session.truth]


def engine_mirror(session: RealSession, events: list[MovementEvent]) -> list[bool]:
    """Whether a mirror event began in each trial's window."""
    return [
        any(e.kind is Kind.MIRROR and a <= e.t_onset <= b for e in events)
        for a, b in windows(session)
    ]


def peer_mirror(session: RealSession) -> list[bool]:
    """The peer method's call per trial window, from the accelerometers alone."""
    return [v.mirror for v in classify_session(session.acc, FS, windows(session))]


RATIO_BINS = (0.05, 0.1, 0.2, 0.35)
TRIAL_COLUMNS = (*(f"r{r:g}" for r in RATIO_BINS), "unimanual", "bimanual")
TRIAL_HEADER = f"{'method':<9}" + "".join(f"{c:>10}" for c in TRIAL_COLUMNS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of PADS-style files")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per session")
    p.add_argument("--split", choices=("both", "tune", "held-out"), default="both")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-peer", action="store_true", help="skip the peer method (slow)")
    p.add_argument(
        "--more-rest",
        type=Path,
        metavar="DIR",
        help="more seated-rest recordings (PADS-style) as backgrounds of held-out sessions",
    )
    args = p.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no real recordings at {args.data}: pass --data DIR (see the README)")
    overrides = {k: float(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    cfg = dataclasses.replace(EngineConfig.from_mapping(overrides), fs=FS)
    scores: dict[str, dict[str, list[Score]]] = defaultdict(lambda: defaultdict(list))
    extras: dict[str, dict[str, list[Extra]]] = defaultdict(lambda: defaultdict(list))
    trials: dict[str, dict[str, dict[str, list[bool]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for split, tune in (("tune", True), ("held-out", False)):
        if args.split not in ("both", split):
            continue
        for session in sessions(args.data, tune, SEEDS, args.more_rest):
            variant = session.variant
            keys = (f"{split}", f"{split} {variant}", "all", f"all {variant}")
            calls = {}
            for method, events in zip(("online", "offline"), run(session, cfg), strict=True):
                s = score(session.truth, events, session.duration)
                x = extra(session, s)
                calls[method] = engine_mirror(session, events)
                for key in keys:
                    scores[key][method].append(s)
                    extras[key][method].append(x)
                if args.verbose:
                    print(f"{session.name:<22} {method:<8} {s.summary()} extra {x.inside}")
            if not args.no_peer:
                calls["peer"] = peer_mirror(session)
            for method, called in calls.items():
                for column, got in trial_calls(session, called).items():
                    for key in keys:
                        trials[key][method][column] += got
    print("\nonset/lat in ms; r<x>: mirror sensitivity for true ratio from x; uni>mir: unimanual")
    print("called mirror; bimanu: bimanual correct; r.err: median |ratio error|; rest/min: false")
    print("events in rest per minute of rest; extra: false events inside a true movement, per")
    print("movement\n")
    for key in sorted(scores):
        print(f"== {key}")
        print(HEADER[:-6] + f"{'rest/min':>9}{'extra':>7}")
        for method in ("online", "offline"):
            xs = extras[key][method]
            rest = sum(x.rest for x in xs) / max(sum(x.rest_minutes for x in xs), 1e-9)
            inside = sum(x.inside for x in xs) / max(sum(x.movements for x in xs), 1)
            line = row(method, pooled(scores[key][method]), 0, method == "online")
            print(line[:-6] + f"{rest:9.2f}{inside:7.2f}")
        print("trials called mirror (movement found or not), beside the peer method:")
        print(TRIAL_HEADER)
        for method, columns in trials[key].items():
            cells = [columns.get(c, []) for c in TRIAL_COLUMNS]
            print(
                f"{method:<9}"
                + "".join(f"{sum(v) / len(v):10.0%}" if v else f"{'-':>10}" for v in cells)
            )
        print()


if __name__ == "__main__":
    main()
