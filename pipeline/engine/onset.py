"""Per-side movement onset and offset detection against an adaptive rest level."""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.engine.config import EngineConfig
from pipeline.engine.history import History
from sensors.types import Side


@dataclass(frozen=True, slots=True)
class Movement:
    """One side's movement onset, as the detector committed to it.

    Indices are grid rows. `level` and `spread` are the rest statistics in force
    when the onset was committed (units of the envelope). `serial` numbers the
    side's movements, so the `MovementEnd` that follows names which one ended.
    """

    side: Side
    serial: int
    onset: int
    detected: int
    level: float
    spread: float
    delay: float  # rows the envelope trails the motion by (filter group delay)

    @property
    def start(self) -> float:
        """Grid position (fractional row) where the movement began."""
        return self.onset - self.delay


@dataclass(frozen=True, slots=True)
class MovementEnd:
    """The end of the side's movement number `serial`: back at rest from row `offset`."""

    side: Side
    serial: int
    offset: int
    peak: float  # largest envelope above the rest level while it went on


Detection = Movement | MovementEnd


class OnsetDetector:
    """Hysteresis detector on one side's activity envelope.

    An onset is committed after the envelope stayed above level + k_on * spread
    (and at least `on_floor` above the level) for `min_on`, and backdated to where
    it last was at or below level + k_start * spread; the envelope's own delay
    (`delay` rows) is taken off when the start time is reported. The movement
    ends after `min_off` below level + k_off * spread (and the floor's share of
    it), or with the slow envelope below that and the envelope below the onset
    threshold, or after `tremor_end` of the slow envelope below that when it never
    rose `min_slow_share` of the peak (a tremor burst). The rest level and spread
    are the median and MAD of the envelope over rest epochs of fixed grid length,
    so thresholds change at the same rows however the input is split. The share of
    time spent in movements, turning the hand one way, says when the hand is in a bout
    of continuous activity (`busy_at`); a movement begun in one ends only after
    `bout_pause` at rest.
    """

    def __init__(
        self,
        cfg: EngineConfig,
        side: Side,
        spread_floor: float,
        on_floor: float,
        min_peak: float,
        delay: float,
        min_slow_share: float = 0.0,
    ) -> None:
        self._cfg = cfg
        self.min_peak = min_peak  # a voluntary movement of this side reaches this above rest
        self.min_slow_share = min_slow_share  # and its slow envelope this share of its peak
        self._on_floor = on_floor
        self._off_floor = on_floor * cfg.k_off / cfg.k_on
        self._delay = delay
        self._side = side
        self._floor = spread_floor
        self._epoch = cfg.samples(cfg.baseline_epoch)
        self._min_on = cfg.samples(cfg.min_on)
        self._min_off = cfg.samples(cfg.min_off)
        self._bout_pause = cfg.samples(cfg.bout_pause)
        # weight of one epoch in the share of time in movement, a moving average over
        # about bout_window
        self._share_weight = min(1.0, cfg.baseline_epoch / cfg.bout_window)
        self._tremor_end = cfg.samples(cfg.tremor_end)
        self._settle = cfg.samples(cfg.settle)
        self._max_back = cfg.samples(cfg.max_backdate)
        self._max_active = cfg.samples(cfg.max_active)
        # rest statistics stay queryable as long as the mirror stage can look back
        look_back = cfg.pre + cfg.max_duration + cfg.lag_window + cfg.max_backdate + 1.0
        self._keep = cfg.samples(look_back) // self._epoch + 2
        self.reset()

    def reset(self) -> None:
        self.level: float | None = None
        self.spread = self._floor
        self._active: Movement | None = None
        self._peak = 0.0  # of the active movement, above its rest level
        self._slow_top = 0.0
        self._calm = 0
        self._off_rows = self._min_off  # rows below threshold that end the active movement
        self._moving = 0  # rows of the current epoch spent in a movement
        self._share = 0.0  # of about the last bout_window spent turning the hand in a movement
        self._shares: deque[tuple[int, float]] = deque(maxlen=self._keep)
        self._serial = 0
        self._above = 0
        self._below = 0
        self._settle_until = 0
        self._rest: list[float] = []
        self._past: deque[tuple[int, float, float]] = deque(maxlen=self._keep)
        self._th = self._thresholds()  # (on, off), kept in step with level and spread

    def feed(
        self,
        start: int,
        env: Sequence[float | None],
        slow: Sequence[float | None],
        history: History,
    ) -> list[Detection]:
        """Rows [start, start + n) of the envelope and the slow envelope; returns the
        onsets and ends found in them, in row order.

        `history` must already hold these rows (backdating reads it).
        """
        found: list[Detection] = []
        th_on, th_off = self._th
        epoch = self._epoch
        left = epoch - start % epoch  # rows until the current epoch ends
        rest = self._rest
        for idx, x in enumerate(env, start):
            if (
                x is not None
                and self._active is None
                and not (x > th_on and idx >= self._settle_until)
            ):
                # at rest (or not allowed to start yet): the common case, tested first
                self._above = 0
                rest.append(x)
            elif x is None:
                self._settle_until = idx + self._settle
                self._above = 0
                if self._active is not None:
                    self._count_below(idx, found)
            elif self._active is not None:
                assert self.level is not None
                self._peak = max(self._peak, x - self.level)
                # A hand that shakes after its movement (tremor) keeps the envelope
                # above the offset threshold; the slow envelope, back under it, ends
                # the movement too, if the envelope is under the onset threshold: a
                # rapid alternating movement swings the slow envelope as low, but its
                # envelope stays high but for dips shorter than min_off.
                calm = slow[idx - start]
                if calm is not None:
                    self._slow_top = max(self._slow_top, calm - self.level)
                    if calm < th_off:
                        self._calm += 1
                    else:  # turning the hand one way, as a tremor burst does not
                        self._calm = 0
                        self._moving += 1
                if x < th_off or (x < th_on and calm is not None and calm < th_off):
                    self._count_below(idx, found)
                elif (
                    self._calm >= self._tremor_end
                    and self._slow_top < self.min_slow_share * self._peak
                ):
                    # Strong but never turning the hand one way, and calm for a while:
                    # a tremor burst, which must not run into the next movement.
                    found.append(self._end(idx - self._calm + 1))
                else:
                    self._below = 0
                    if idx - self._active.onset >= self._max_active:
                        # Active for this long is a changed rest (tremor, a loose strap,
                        # a noisier sensor), not one movement: learn the rest level anew.
                        found.append(self._end(idx))
                        self.level = None
                        self._th = self._thresholds()
                        th_on, th_off = self._th
            else:  # above k_on, settled, rest level known (else th_on is inf)
                self._above += 1
                if self._above >= self._min_on:
                    found.append(self._commit(idx, history))
            left -= 1
            if not left:
                self._end_epoch(idx)
                th_on, th_off = self._th
                rest, left = self._rest, epoch
        return found

    def _thresholds(self) -> tuple[float, float]:
        if self.level is None:
            return math.inf, math.inf
        return (
            self.level + max(self._cfg.k_on * self.spread, self._on_floor),
            self.level + max(self._cfg.k_off * self.spread, self._off_floor),
        )

    def _count_below(self, idx: int, found: list[Detection]) -> None:
        self._below += 1
        if self._below >= self._off_rows:
            found.append(self._end(idx - self._below + 1))
            self._below = 0

    def _end(self, offset: int) -> MovementEnd:
        assert self._active is not None
        end = MovementEnd(self._side, self._active.serial, offset, self._peak)
        self._active = None
        return end

    def _commit(self, idx: int, history: History) -> Movement:
        assert self.level is not None
        first_above = idx - self._above + 1
        lo = max(first_above - self._max_back, 0)
        start_th = self.level + self._cfg.k_start * self.spread
        onset = lo
        for i in range(first_above - 1, lo - 1, -1):
            v = history.get(i)
            if v is None or v <= start_th:
                onset = i
                break
        peak = max(v for i in range(first_above, idx + 1) if (v := history.get(i)) is not None)
        self._serial += 1
        mov = Movement(
            side=self._side,
            serial=self._serial,
            onset=onset,
            detected=idx,
            level=self.level,
            spread=self.spread,
            delay=self._delay,
        )
        # In a bout of continuous activity (eating, dressing) the hand pauses for moments
        # between one movement and the next; those pauses do not end the activity.
        busy = self._share >= self._cfg.bout_share
        self._off_rows = self._bout_pause if busy else self._min_off
        self._peak = peak - self.level
        self._slow_top = 0.0  # highest slow envelope above the rest level since the commit
        self._calm = 0  # rows in a row the slow envelope has been under th_off
        self._active = mov
        self._above = 0
        self._below = 0
        return mov

    def rest_at(self, idx: int) -> tuple[float, float] | None:
        """Rest level and spread that were in force at grid row `idx`, if known."""
        found = None
        for start, level, spread in self._past:
            if start > idx:
                break
            found = (level, spread)
        return found

    def busy_at(self, idx: int) -> bool:
        """Whether this side was in a bout of continuous activity at grid row `idx`."""
        found = 0.0
        for start, share in self._shares:
            if start > idx:
                break
            found = share
        return found >= self._cfg.bout_share

    def _end_epoch(self, idx: int) -> None:
        self._share += self._share_weight * (self._moving / self._epoch - self._share)
        self._moving = 0
        self._shares.append((idx + 1, self._share))
        # Only an epoch entirely at rest and valid says anything about rest.
        rest = self._rest
        self._rest = []
        if len(rest) < self._epoch:
            return
        med = statistics.median(rest)
        mad = max(1.4826 * statistics.median([abs(v - med) for v in rest]), self._floor)
        if self.level is None:
            self.level, self.spread = med, mad
        else:
            w = self._cfg.baseline_fall if med < self.level else self._cfg.baseline_rise
            self.level += w * (med - self.level)
            self.spread = max(self.spread + w * (mad - self.spread), self._floor)
        self._th = self._thresholds()
        self._past.append((idx + 1, self.level, self.spread))
