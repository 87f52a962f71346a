"""Per-hand summaries of movement events, and their plain-text table."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.engine.events import Kind, MovementEvent
from sensors.types import Side


@dataclass(frozen=True, slots=True)
class HandSummary:
    """Movements in which `side` was the active hand."""

    side: Side
    movements: int
    kinds: Counter[Kind]
    median_ratio: float | None  # over mirror events
    max_ratio: float | None
    median_lag_ms: float | None
    grades: Counter[int]  # of mirror events, 1-4

    @property
    def mirror_share(self) -> float:
        """Mirror events per movement with a decidable other hand."""
        decidable = self.movements - self.kinds[Kind.INDETERMINATE]
        return self.kinds[Kind.MIRROR] / decidable if decidable else 0.0


def summarize(events: Iterable[MovementEvent]) -> dict[Side, HandSummary]:
    """One summary per hand, by active side."""
    by_side: dict[Side, list[MovementEvent]] = {Side.L: [], Side.R: []}
    for e in events:
        by_side[e.active].append(e)
    out = {}
    for side, evs in by_side.items():
        mirrors = [e for e in evs if e.kind is Kind.MIRROR]
        ratios = [e.mirror_ratio for e in mirrors]
        lags = [e.lag_ms for e in mirrors if e.lag_ms is not None]
        out[side] = HandSummary(
            side=side,
            movements=len(evs),
            kinds=Counter(e.kind for e in evs),
            median_ratio=statistics.median(ratios) if ratios else None,
            max_ratio=max(ratios) if ratios else None,
            median_lag_ms=statistics.median(lags) if lags else None,
            grades=Counter(e.grade for e in mirrors),
        )
    return out


def format_table(summaries: dict[Side, HandSummary]) -> str:
    """A fixed-width table, one row per active hand."""
    head = (
        f"{'active':<7}{'moves':>6}{'mirror':>7}{'share':>7}{'bimanual':>9}{'indet.':>7}"
        f"{'med.ratio':>10}{'max':>6}{'med.lag':>8}  grades 1/2/3/4"
    )
    lines = [head, "-" * len(head)]
    for side in (Side.L, Side.R):
        s = summaries[side]
        grades = "/".join(str(s.grades[g]) for g in (1, 2, 3, 4))
        lines.append(
            f"{side.value:<7}{s.movements:>6}{s.kinds[Kind.MIRROR]:>7}{s.mirror_share:>7.0%}"
            f"{s.kinds[Kind.BIMANUAL]:>9}{s.kinds[Kind.INDETERMINATE]:>7}"
            f"{_num(s.median_ratio, '.2f'):>10}{_num(s.max_ratio, '.2f'):>6}"
            f"{_num(s.median_lag_ms, '.0f'):>8}  {grades}"
        )
    return "\n".join(lines)


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)
