"""The online engine: blocks of both wrists in, onsets and movement events out.

Pure and synchronous: time arrives with the data, nothing here reads a clock or
does I/O, so the same engine runs live, on a replayed file and in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.engine.align import AlignedChunk, Aligner, Row
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Event, MovementEvent, Onset
from pipeline.engine.filters import ActivityEnvelope
from pipeline.engine.history import History
from pipeline.engine.mirror import MirrorStage, Task
from pipeline.engine.onset import Detection, Movement, OnsetDetector
from sensors.types import ImuBlock, Side


@dataclass(frozen=True, slots=True)
class EngineStats:
    """Counters a live view or report shows about the data the engine saw."""

    rows: int  # grid rows processed
    valid: dict[Side, int]  # rows with usable data, per side
    late: dict[Side, int]  # samples that arrived behind the grid and were dropped
    lost: dict[Side, int]  # samples the source reported lost


class Engine:
    """Composes alignment, envelopes, onset detection and the mirror stage."""

    def __init__(self, cfg: EngineConfig | None = None) -> None:
        self.cfg = cfg or EngineConfig()
        c = self.cfg
        self._aligner = Aligner(c.fs, c.max_wait, c.max_gap, c.max_gap_no_gyro)
        self._envelopes: dict[Side, ActivityEnvelope] = {}
        look_back = (
            c.null_span + c.pre + c.max_duration + c.lag_window + c.max_backdate + 2 * _STEP_S + 1.0
        )
        self._look_back = c.samples(look_back)
        self._histories = {s: History(self._look_back) for s in Side}
        self._slow = {s: History(self._look_back) for s in Side}
        self._detectors: dict[Side, OnsetDetector] = {}
        self._mirror = MirrorStage(c)
        self._step = c.samples(_STEP_S)
        self._rows = 0
        self._valid = {Side.L: 0, Side.R: 0}

    def set_task(self, name: str | None, active: Side | None, start: float) -> None:
        """From session time `start` on, movements belong to task `name`.

        `active` is the hand the task asks to move (None for both hands or rest):
        then any time-locked activity of the other hand is graded as mirror.
        """
        self._mirror.set_task(Task(start, name, active))

    def feed(self, block: ImuBlock) -> list[Event]:
        """Take one block of one side; return what became known, in order."""
        chunk = self._aligner.feed(block)
        return [] if chunk is None else self._process(chunk)

    def flush(self) -> list[Event]:
        """End of data: process what is buffered and decide every open movement."""
        chunk = self._aligner.flush()
        events = [] if chunk is None else self._process(chunk)
        if self._rows == 0:
            return events
        last = max(h.end for h in self._histories.values()) - 1
        decided = self._mirror.flush(last, self._histories, self._slow, self._detectors)
        return events + [e for _, e in decided]

    def reset(self) -> None:
        self._aligner.reset()
        self._histories = {s: History(self._look_back) for s in Side}
        self._slow = {s: History(self._look_back) for s in Side}
        self._envelopes.clear()
        self._detectors.clear()
        self._mirror.reset()
        self._rows = 0
        self._valid = {Side.L: 0, Side.R: 0}

    @property
    def stats(self) -> EngineStats:
        a = self._aligner.stats
        return EngineStats(self._rows, dict(self._valid), dict(a.late), dict(a.lost))

    def _process(self, chunk: AlignedChunk) -> list[Event]:
        # Fixed-size steps bound the look-back a decision needs, whatever the chunk.
        n, step = chunk.n, self._step
        if n <= step:  # live blocks: one step
            out = self._step_rows(chunk, 0, n)
        else:
            out = []
            for i in range(0, n, step):
                out.extend(self._step_rows(chunk, i, min(i + step, n)))
        self._rows += n
        return out

    def _step_rows(self, chunk: AlignedChunk, i0: int, i1: int) -> list[Event]:
        start = chunk.start + i0
        timeline: list[tuple[int, int, str, Event]] = []
        found: list[Detection] = []
        for side in _SIDES:
            rows = chunk.rows[side]
            if i1 - i0 < chunk.n:
                rows = rows[i0:i1]
            history = self._histories[side]
            envelope = self._envelopes.get(side)
            if envelope is None:
                envelope = self._start_side(side, chunk.has_gyro[side], rows)
                if envelope is None:
                    history.write(start, [None] * len(rows))
                    self._slow[side].write(start, [None] * len(rows))
                    continue
            env, slow = envelope.feed(start, rows)
            history.write(start, env)
            self._slow[side].write(start, slow)
            self._valid[side] += len(env) - env.count(None)
            for x in self._detectors[side].feed(start, env, slow, history):
                found.append(x)
                if isinstance(x, Movement):
                    fs = self.cfg.fs
                    onset = Onset(side=side, t=x.start / fs, detected_at=x.detected / fs)
                    timeline.append((x.detected, 0, side.value, onset))
        now = start + (i1 - i0) - 1
        decided = self._mirror.feed(now, found, self._histories, self._slow, self._detectors)
        for d, event in decided:
            timeline.append((d, 1, event.active.value, event))
        if len(timeline) > 1:
            timeline.sort(key=lambda item: item[:3])
        return [item[3] for item in timeline]

    def _start_side(
        self, side: Side, has_gyro: bool | None, rows: list[Row | None]
    ) -> ActivityEnvelope | None:
        """Envelope and detector for `side` from its first present row on, else None."""
        if has_gyro is None or all(r is None for r in rows):
            return None
        c = self.cfg
        if has_gyro:
            floors = (c.gyro_spread_floor, c.gyro_on_floor, c.min_peak)
            slow_share = c.min_slow_share
        else:
            floors = (c.acc_spread_floor, c.acc_on_floor, c.acc_min_peak)
            slow_share = c.acc_min_slow_share
        envelope = ActivityEnvelope(c, has_gyro)
        self._envelopes[side] = envelope
        self._detectors[side] = OnsetDetector(c, side, *floors, envelope.delay, slow_share)
        return envelope


_STEP_S = 0.5  # s of grid rows processed at a time
_SIDES = tuple(Side)  # iterating the enum itself costs a generator per call


def movements(events: list[Event]) -> list[MovementEvent]:
    """The movement events of an event list, in order."""
    return [e for e in events if isinstance(e, MovementEvent)]
