"""Per-task scores of a scripted assessment (the per-hand verdict is in verdict.py)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.engine.events import Kind, MovementEvent
from pipeline.workflows.assessment.timeline import Status, Window
from sensors.types import FloatArray, Side

DISCLAIMER = (
    "These measurements support the examiner's judgement. They are not a diagnosis: "
    "results outside the reference limits call for the examiner's observation and, "
    "where needed, a clinical assessment."
)


@dataclass(frozen=True, slots=True)
class Stats:
    """Movements of one hand and the mirror activity of the other.

    `movements` detected; `mirror` of them with mirror activity; `indeterminate` with too
    little data of the other hand; ratios and lags over mirror events; grades (0 for no
    mirror activity) over every decidable movement.
    """

    movements: int
    mirror: int
    bimanual: int
    indeterminate: int
    median_ratio: float | None
    max_ratio: float | None
    median_lag_ms: float | None
    grade_median: float | None
    grade_worst: int | None

    @property
    def mirror_share(self) -> float | None:
        decidable = self.movements - self.indeterminate
        return self.mirror / decidable if decidable else None


@dataclass(frozen=True, slots=True)
class TaskScore:
    """One task attempt: `expected` cued movements against `stats` of the asked hand(s).

    `other` counts movements the engine attributed to the hand not asked to move
    (a unimanual task only); `completeness` is the share of expected samples received.
    """

    window: Window
    expected: int
    stats: Stats
    other: int
    completeness: dict[Side, float]

    @property
    def scored(self) -> bool:
        return self.window.status is Status.DONE


def stats(events: Sequence[MovementEvent]) -> Stats:
    """Summary numbers of `events` (all of one active hand, or of a both-hands task)."""
    mirrors = [e for e in events if e.kind is Kind.MIRROR]
    ratios = [e.mirror_ratio for e in mirrors]
    lags = [e.lag_ms for e in mirrors if e.lag_ms is not None]
    grades = [e.grade for e in events if e.kind is not Kind.INDETERMINATE]
    return Stats(
        movements=len(events),
        mirror=len(mirrors),
        bimanual=sum(e.kind is Kind.BIMANUAL for e in events),
        indeterminate=sum(e.kind is Kind.INDETERMINATE for e in events),
        median_ratio=statistics.median(ratios) if ratios else None,
        max_ratio=max(ratios) if ratios else None,
        median_lag_ms=statistics.median(lags) if lags else None,
        grade_median=statistics.median(grades) if grades else None,
        grade_worst=max(grades) if grades else None,
    )


def in_window(events: Sequence[MovementEvent], w: Window) -> list[MovementEvent]:
    """Events whose onset falls in the window."""
    return [e for e in events if w.start <= e.t_onset < w.end]


def completeness(t: FloatArray, start: float, end: float, fs: float) -> float:
    """Share of the samples expected at `fs` Hz in [start, end) that were received."""
    if end <= start:
        return 0.0
    lo, hi = np.searchsorted(t, [start, end])
    return min(1.0, float(hi - lo) / ((end - start) * fs))


def score_tasks(
    windows: Sequence[Window],
    events: Sequence[MovementEvent],
    sample_times: Mapping[Side, FloatArray],
    fs: float,
) -> list[TaskScore]:
    """One score per task attempt, in session order."""
    out = []
    for w in windows:
        inside = in_window(events, w)
        side = w.active.side
        mine = inside if side is None else [e for e in inside if e.active is side]
        empty = np.zeros(0)
        out.append(
            TaskScore(
                window=w,
                expected=w.expected,
                stats=stats(mine),
                other=len(inside) - len(mine),
                completeness={
                    s: completeness(sample_times.get(s, empty), w.start, w.end, fs) for s in Side
                },
            )
        )
    return out
