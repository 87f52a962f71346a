"""Home monitoring, pure: hourly aggregates per wrist and data warnings, from blocks and events.

Feed it every block (`block`) and every movement event (`event`); `ready(now)` hands
out each hour once all of it is decided: its wear epochs (which may wait for a still
run to be judged) and the events of its onsets. Mirror rates count only movements
during which both wrists were worn: a hand cannot mirror into a sensor on a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.engine.events import Kind, MovementEvent
from pipeline.store.aggregates import DataWarning, HourRow
from pipeline.workflows.wear import Epoch, SideCheck, WearConfig, WearDetector
from sensors.types import ImuBlock, Side

HOUR = 3600.0  # s
DAY = 86400.0  # s
DECISION_MARGIN = 10.0  # s after an hour's end by which its last movements are decided

SIDE_NOTE = "side_check"
"""Spool note of a monitoring session: `Monitor.side_state` at its end."""


@dataclass(frozen=True, slots=True)
class Counts:
    """Totals for the status line: the day's onsets and mirror events per active hand,
    and the session's samples lost and received per wrist."""

    onsets: dict[Side, int]
    mirror: dict[Side, int]
    lost: dict[Side, int]  # samples the source reported lost
    received: dict[Side, int]

    def loss(self, side: Side) -> float:
        n = self.lost[side] + self.received[side]
        return self.lost[side] / n if n else 0.0


class Monitor:
    """Hourly aggregates and warnings of one monitoring session.

    `day_offset` s: the session start's time of day (UTC), so the status line's counts
    start again at midnight.
    """

    def __init__(
        self, wear: WearConfig | None = None, hour: float = HOUR, day_offset: float = 0.0
    ) -> None:
        self._cfg = wear or WearConfig()
        self._day_offset = day_offset
        self._day = 0
        self._hour = hour
        self._wear = {s: WearDetector(s, self._cfg) for s in Side}
        self._side_check = SideCheck(self._cfg)
        self._epochs: dict[Side, list[Epoch]] = {Side.L: [], Side.R: []}
        self._decided = {Side.L: 0.0, Side.R: 0.0}  # s: epochs decided up to here
        self._events: list[MovementEvent] = []
        self._next_hour = 0
        self._end = 0.0  # s, latest sample seen
        self._spans_told = {Side.L: 0, Side.R: 0}
        self._ends_told = {Side.L: 0, Side.R: 0}
        self._swap_told = False
        self._warnings: list[DataWarning] = []
        self._onsets = {Side.L: 0, Side.R: 0}
        self._mirror = {Side.L: 0, Side.R: 0}
        self._lost = {Side.L: 0, Side.R: 0}
        self._received = {Side.L: 0, Side.R: 0}

    def block(self, block: ImuBlock) -> None:
        self._lost[block.side] += block.lost
        self._received[block.side] += len(block)
        if len(block):
            self._end = max(self._end, float(block.t[-1]))
        self._take(block.side, self._wear[block.side].process(block))

    def event(self, event: MovementEvent) -> None:
        self._events.append(event)
        day = math.floor((event.t_onset + self._day_offset) / DAY)
        if day > self._day:
            self._day = day
            self._onsets = {Side.L: 0, Side.R: 0}
            self._mirror = {Side.L: 0, Side.R: 0}
        self._onsets[event.active] += 1
        self._mirror[event.active] += event.kind is Kind.MIRROR

    @property
    def side_state(self) -> str:
        """What the swapped-wrist check found: "swapped", "expected" or "undecided"."""
        swapped = self._side_check.swapped()
        return "undecided" if swapped is None else "swapped" if swapped else "expected"

    @property
    def counts(self) -> Counts:
        return Counts(
            dict(self._onsets), dict(self._mirror), dict(self._lost), dict(self._received)
        )

    def ready(self, now: float) -> list[HourRow]:
        """Hours fully decided by session time `now`, each handed out once."""
        out: list[HourRow] = []
        while True:
            start = self._next_hour * self._hour
            end = start + self._hour
            if now < end + DECISION_MARGIN or min(self._decided.values()) < end:
                return out
            out += self._rows(start, end)
            self._next_hour += 1

    def flush(self) -> list[HourRow]:
        """End of data: judge what is pending and hand out every remaining hour."""
        for side in Side:
            self._take(side, self._wear[side].flush())
        out: list[HourRow] = []
        while (start := self._next_hour * self._hour) < self._end:
            out += self._rows(start, min(start + self._hour, self._end))
            self._next_hour += 1
        return out

    def warnings(self) -> list[DataWarning]:
        """Warnings raised since the last call."""
        out, self._warnings = self._warnings, []
        return out

    def _take(self, side: Side, epochs: list[Epoch]) -> None:
        if not epochs:
            return
        for e in epochs:
            self._epochs[side].append(e)
            self._decided[side] = e.start + e.length
            self._side_check.add(e)
        self._warn(side)

    def _warn(self, side: Side) -> None:
        spans = self._wear[side].spans
        for span in spans[self._spans_told[side] :]:
            self._warnings.append(
                DataWarning(
                    span.start,
                    side,
                    "non-wear",
                    f"{side.value} sensor not on a wrist (as still as on a table) from "
                    f"{_clock(span.start)} session time",
                )
            )
        self._spans_told[side] = len(spans)
        ended = [s for s in spans if s.end is not None]
        for span in ended[self._ends_told[side] :]:
            assert span.end is not None
            self._warnings.append(
                DataWarning(
                    span.end,
                    side,
                    "worn-again",
                    f"{side.value} sensor back on a wrist at {_clock(span.end)} session time, "
                    f"after {(span.end - span.start) / 60:.0f} min off",
                )
            )
        self._ends_told[side] = len(ended)
        if not self._swap_told and self._side_check.swapped():
            self._swap_told = True
            self._warnings.append(
                DataWarning(
                    self._decided[side],
                    None,
                    "swapped",
                    "the left sensor seems to be on the right wrist and the right one on the "
                    "left: movements read as the other hand's; swap them, or swap L and R "
                    "in the analysis",
                )
            )

    def _rows(self, start: float, end: float) -> list[HourRow]:
        worn = {s: [e for e in self._epochs[s] if start <= e.start < end] for s in Side}
        hour = round(start / self._hour)
        both_worn = {e.start for e in worn[Side.L] if e.worn} & {
            e.start for e in worn[Side.R] if e.worn
        }
        epoch = self._cfg.epoch
        events = [e for e in self._events if start <= e.t_onset < end]
        counted = [e for e in events if math.floor(e.t_onset / epoch) * epoch in both_worn]
        rows = []
        for side in Side:
            mine = [e for e in counted if e.active is side]
            on = [e for e in worn[side] if e.worn]
            rows.append(
                HourRow(
                    hour=hour,
                    side=side,
                    start=start,
                    seconds=end - start,
                    onsets=len(mine),
                    mirror=sum(e.kind is Kind.MIRROR for e in mine),
                    bimanual=sum(e.kind is Kind.BIMANUAL for e in mine),
                    worn_s=min(end - start, sum(e.length for e in on)),
                    valid_s=min(end - start, sum(e.valid_s for e in worn[side])),
                    activity=sum(e.activity for e in on) / len(on) if on else 0.0,
                )
            )
        # what later hours cannot need any more
        for s in Side:
            self._epochs[s] = [e for e in self._epochs[s] if e.start >= end]
        self._events = [e for e in self._events if e.t_onset >= end]
        return rows


def _clock(t: float) -> str:
    """Session seconds as h:mm:ss."""
    s = int(t)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
