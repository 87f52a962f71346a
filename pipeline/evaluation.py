"""Detected movement events scored against a simulator's ground truth.

Used by the demo's closing line, the accuracy benchmark and the tests, so the
numbers they print are computed one way.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.engine.events import Kind, MovementEvent
from sensors.scenarios import Interval, TruthMovement

MATCH_WINDOW = 0.25  # s, a detected onset this close to a true one is the same movement
# s around a bout of continuous activity where an event is still the bout's: its
# first movement's onset is backdated, its last one's decision comes after its end
BOUT_MARGIN = (0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Match:
    truth: TruthMovement
    event: MovementEvent


@dataclass(frozen=True, slots=True)
class Score:
    """How detected events compare with the truth of one or more sessions."""

    matches: list[Match]
    missed: list[TruthMovement]
    false: list[MovementEvent]  # events matching no voluntary movement
    false_in_common_mode: int  # of which during walking or vibration
    minutes: float  # of data scored
    in_bouts: list[MovementEvent]  # events during continuous activity: neither true nor false
    bout_minutes: float  # of the data scored, in bouts of continuous activity

    @property
    def recall(self) -> float:
        n = len(self.matches) + len(self.missed)
        return len(self.matches) / n if n else 1.0

    @property
    def false_per_min(self) -> float:
        """False events per minute outside bouts of continuous activity."""
        outside = self.minutes - self.bout_minutes
        return len(self.false) / outside if outside > 0 else 0.0

    @property
    def bout_events_per_min(self) -> float:
        """Events per minute of continuous activity: what a bout is cut into."""
        return len(self.in_bouts) / self.bout_minutes if self.bout_minutes else 0.0

    def bout_mirrors(self) -> int:
        """Events called mirror during continuous activity, where no mirror was put."""
        return sum(e.kind is Kind.MIRROR for e in self.in_bouts)

    def onset_errors_ms(self) -> list[float]:
        """Detected minus true onset of each matched movement, ms."""
        return [(m.event.t_onset - m.truth.onset) * 1000 for m in self.matches]

    def latencies_ms(self) -> list[float]:
        """detected_at minus the true onset, ms."""
        return [(m.event.detected_at - m.truth.onset) * 1000 for m in self.matches]

    def mirror_sensitivity(self, lo: float, hi: float) -> tuple[int, int]:
        """(called mirror, all) over true mirror movements with lo <= ratio < hi."""
        sel = [m for m in self.matches if m.truth.kind == "mirror" and lo <= m.truth.ratio < hi]
        return sum(m.event.kind is Kind.MIRROR for m in sel), len(sel)

    def false_mirror(self) -> tuple[int, int]:
        """(called mirror, all) over truly unimanual movements."""
        sel = [m for m in self.matches if m.truth.kind == "unimanual"]
        return sum(m.event.kind is Kind.MIRROR for m in sel), len(sel)

    def bimanual_accuracy(self) -> tuple[int, int]:
        """(called bimanual, all) over true bimanual movements."""
        sel = [m for m in self.matches if m.truth.kind == "bimanual"]
        return sum(m.event.kind is Kind.BIMANUAL for m in sel), len(sel)

    def ratio_errors(self) -> list[float]:
        """Relative error of the estimated ratio over true mirrors called mirror."""
        return [
            m.event.mirror_ratio / m.truth.ratio - 1.0
            for m in self.matches
            if m.truth.kind == "mirror" and m.event.kind is Kind.MIRROR and m.truth.ratio > 0
        ]

    def summary(self) -> str:
        errors = self.onset_errors_ms()
        med = f"{statistics.median(errors):+.0f} ms" if errors else "-"
        called, total = self.false_mirror()
        found, n = len(self.matches), len(self.matches) + len(self.missed)
        return (
            f"recall {self.recall:.0%} ({found}/{n}),"
            f" {self.false_per_min:.2f} false/min, median onset error {med},"
            f" unimanual called mirror {called}/{total}"
        )


def score(
    truth: Sequence[TruthMovement],
    events: Sequence[MovementEvent],
    duration: float,
    common_mode: Sequence[Interval] = (),
    bouts: Sequence[Interval] = (),
) -> Score:
    """Pair each true movement with the nearest unused event of either side in time.

    Both sides count: a bimanual movement may be reported from the other hand, and
    an event of the wrong hand is still the same movement found.
    """
    used: set[int] = set()
    matches: list[Match] = []
    missed: list[TruthMovement] = []
    for tm in sorted(truth, key=lambda m: m.onset):
        best, best_dt = None, MATCH_WINDOW
        for i, e in enumerate(events):
            dt = abs(e.t_onset - tm.onset)
            if i not in used and dt <= best_dt:
                best, best_dt = i, dt
        if best is None:
            missed.append(tm)
        else:
            used.add(best)
            matches.append(Match(tm, events[best]))
    unmatched = [e for i, e in enumerate(events) if i not in used]
    before, after = BOUT_MARGIN
    in_bouts: list[MovementEvent] = []
    false: list[MovementEvent] = []
    for e in unmatched:
        bout = any(b.start - before <= e.t_onset <= b.end + after for b in bouts)
        (in_bouts if bout else false).append(e)
    in_cm = sum(any(iv.start <= e.t_onset <= iv.end for iv in common_mode) for e in false)
    bout_minutes = sum(b.end - b.start for b in bouts) / 60.0
    return Score(matches, missed, false, in_cm, duration / 60.0, in_bouts, bout_minutes)
