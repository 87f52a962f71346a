"""From voluntary movements and the other hand's activity to MovementEvents.

A movement is decided once its window is complete: from `pre` before its onset
to `lag_window` after its offset (or after `max_duration`, for long ones). Two
onsets of opposite sides within `lag_window` of each other are one movement:
the stronger side is the active one. Everything a decision reads is fixed by
grid rows up to its decision row, so any split of the input decides alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Kind, MovementEvent
from pipeline.engine.history import BoolArray, History
from pipeline.engine.matched import Copy, find_copy, null_noise
from pipeline.engine.onset import Detection, Movement, MovementEnd, OnsetDetector
from sensors.types import FloatArray, Side


@dataclass(frozen=True, slots=True)
class Task:
    """A scripted task from session time `start` on; `active` is the hand it asks to move.

    With an active hand known, any time-locked activity of the other hand is
    mirror activity, however strong; `active` None (both hands, or rest) leaves
    the engine to tell mirror from bimanual by strength.
    """

    start: float  # s
    name: str | None
    active: Side | None


@dataclass(frozen=True, slots=True)
class _Decided:
    movement: Movement
    absorbs: bool  # its event already covers activity of the other side


class MirrorStage:
    """Holds movements until their window is complete, then classifies them."""

    def __init__(self, cfg: EngineConfig) -> None:
        self._cfg = cfg
        self._pre = cfg.samples(cfg.pre)
        self._post = cfg.samples(cfg.lag_window)
        self._max_dur = cfg.samples(cfg.max_duration)
        self._min_off = cfg.samples(cfg.min_off)
        self._min_dur = cfg.samples(cfg.min_duration)
        self._null_rows = cfg.samples(cfg.null_span)
        self._quiet = cfg.samples(cfg.onset_quiet)
        self._lead = cfg.samples(0.03)  # a copy may seem to lead by filter and grid jitter
        self._memory = cfg.noise_memory * cfg.fs
        self._pending: list[Movement] = []
        self._recent: list[_Decided] = []
        self._offsets: dict[tuple[Side, int], int] = {}  # (side, serial) -> offset row
        self._tasks: list[Task] = [Task(-math.inf, None, None)]

    def set_task(self, task: Task) -> None:
        """Movements with an onset at or after `task.start` belong to `task`."""
        if task.start < self._tasks[-1].start:
            raise ValueError("tasks must be set in time order")
        self._tasks.append(task)

    def reset(self) -> None:
        self._pending.clear()
        self._recent.clear()
        self._offsets.clear()
        self._tasks = [Task(-math.inf, None, None)]

    def _task_at(self, t: float) -> Task:
        for task in reversed(self._tasks):
            if task.start <= t:
                return task
        return self._tasks[0]

    def feed(
        self,
        now: int,
        found: list[Detection],
        histories: dict[Side, History],
        slow: dict[Side, History],
        detectors: dict[Side, OnsetDetector],
    ) -> list[tuple[int, MovementEvent]]:
        """Take the detectors' onsets and ends up to grid row `now`; decide every
        movement whose decision row is <= `now`.

        `histories` (envelopes), `slow` (slow envelopes) and `detectors` are read,
        never kept. Returns (decision row, event) pairs in decision order.
        """
        for x in found:
            if isinstance(x, MovementEnd):
                self._offsets[(x.side, x.serial)] = x.offset
            else:
                self._pending.append(x)
        return self._decide(now, False, histories, slow, detectors)

    def flush(
        self,
        last: int,
        histories: dict[Side, History],
        slow: dict[Side, History],
        detectors: dict[Side, OnsetDetector],
    ) -> list[tuple[int, MovementEvent]]:
        """End of data at grid row `last`: decide every open movement."""
        return self._decide(last, True, histories, slow, detectors)

    def _decide(
        self,
        now: int,
        final: bool,
        histories: dict[Side, History],
        slow: dict[Side, History],
        detectors: dict[Side, OnsetDetector],
    ) -> list[tuple[int, MovementEvent]]:
        if not (self._pending or self._recent or len(self._tasks) > 1):
            return []  # nothing to decide or forget: most rows of a session
        out: list[tuple[int, MovementEvent]] = []
        while self._pending:
            d, m = min(((self._decision_row(m), m) for m in self._pending), key=_order)
            if d > now and not final:
                break
            self._pending.remove(m)
            d = min(d, now + 1) if final else d
            event = self._classify(m, d, histories, slow, detectors)
            if event is not None:
                out.append((d, event))
        # generous: a later decision may still pair with anything this recent
        horizon = now - 2 * (self._pre + self._max_dur + 2 * self._post)
        self._recent = [r for r in self._recent if r.movement.onset >= horizon]
        if self._offsets:
            keep = {(m.side, m.serial) for m in self._pending}
            keep.update((r.movement.side, r.movement.serial) for r in self._recent)
            self._offsets = {k: v for k, v in self._offsets.items() if k in keep}
        while len(self._tasks) > 1 and self._tasks[1].start * self._cfg.fs < horizon:
            self._tasks.pop(0)  # a later task has begun long before anything still open
        return out

    def _offset_by(self, m: Movement, d: int) -> int | None:
        """Offset row if the detector had found it by row `d` (min_off after it)."""
        offset = self._offsets.get((m.side, m.serial))
        if offset is None or offset + self._min_off - 1 > d:
            return None
        return offset

    def _end_row(self, m: Movement, d: int) -> int | None:
        """Offset row if it was known by row `d` and within max_duration, else None."""
        end = self._offset_by(m, d)
        return end if end is not None and end <= m.onset + self._max_dur else None

    def _known(self, side: Side, d: int) -> list[Movement]:
        """Movements of `side`, open or recently decided, detected by row `d`."""
        every = [*self._pending, *(r.movement for r in self._recent)]
        return [mv for mv in every if mv.side is side and mv.detected <= d]

    def _decision_row(self, m: Movement) -> int:
        capped = m.onset + self._max_dur + self._post
        end = self._end_row(m, capped)
        return capped if end is None else end + self._post

    def _absorbed(self, m: Movement) -> bool:
        """Whether an event already decided covers `m` as the other hand's activity."""
        return any(
            r.absorbs
            and r.movement.side is not m.side
            and abs(r.movement.onset - m.onset) <= self._post
            for r in self._recent
        )

    def _inside_movement(self, side: Side, row: int, d: int) -> bool:
        """Whether a movement of `side` known by row `d` was going on at `row`."""
        for mv in self._known(side, d):
            end = self._offset_by(mv, d)  # None: still going on at row d
            if mv.onset <= row and (end is None or row <= end):
                return True
        return False

    def _starts_within(self, side: Side, lo: int, d: int) -> bool:
        """Whether a movement of `side` known by row `d` began in rows [lo, d]."""
        return any(lo <= mv.onset <= d for mv in self._known(side, d))

    def _match(
        self,
        template: FloatArray,
        other: tuple[FloatArray, BoolArray],
        rest: tuple[float, float],
        past: tuple[FloatArray, BoolArray],
    ) -> Copy | None:
        """The other hand's best match to the active envelope (pipeline/engine/matched.py)."""
        env, valid = other
        level, spread = rest
        lags = range(-self._lead, self._post + 1)
        null = null_noise(template, past[0] - level, past[1])
        return find_copy(template, env - level, valid, spread, lags, self._memory, null)

    def _begin(
        self,
        m: Movement,
        excess: FloatArray,
        valid: BoolArray,
        a0: int,
        rest: tuple[float, float] | None,
    ) -> int:
        """Row where `m` began: the last row before its rise to _RISE of its peak where its
        envelope was within `onset_fraction` of that peak (or k_start spreads) of rest
        for `onset_quiet`: a shorter dip is a pause between sub-movements.

        Never earlier than the detector's own backdated onset, which only knew the
        movement's first rows; a fidget just before the rise stays out of it.
        """
        if rest is None or excess.shape[0] == 0:
            return m.onset
        first = max(m.onset - a0, 0)
        peak = float(excess[first:].max(initial=0.0))
        if peak <= 0.0:
            return m.onset
        th = max(self._cfg.k_start * rest[1], self._cfg.onset_fraction * peak)
        i = first + int(np.argmax(excess[first:] >= _RISE * peak))
        run = 0  # quiet rows in a row, walking back from the rise
        while i > first:
            if excess[i] > th or not valid[i]:  # a gap says nothing
                run = 0
            else:
                run += 1
                if run == self._quiet:
                    return a0 + i + run - 1
            i -= 1
        return a0 + i + run

    def _voluntary(
        self,
        side: Side,
        peak: float,
        begin: int,
        a0: int,
        d: int,
        slow: dict[Side, History],
        detectors: dict[Side, OnsetDetector],
    ) -> bool:
        """Whether activity of `side` peaking at `peak`, begun at grid row `begin`, is a
        voluntary movement: strong enough, and turning the hand one way for a while
        (a tremor burst is strong but swings back and forth)."""
        detector = detectors.get(side)
        if detector is None or peak < detector.min_peak:
            return False  # a twitch or jitter at rest
        return _rise(slow[side], a0, begin, d) >= detector.min_slow_share * peak

    def _partner(self, m: Movement, d: int) -> Movement | None:
        """The closest other-side onset within lag_window of `m`, known by row `d`."""
        near = [
            c
            for c in self._pending
            if c.side is not m.side and c.detected <= d and abs(c.onset - m.onset) <= self._post
        ]
        return min(near, key=lambda c: (abs(c.onset - m.onset), c.onset), default=None)

    def _classify(
        self,
        m: Movement,
        d: int,
        histories: dict[Side, History],
        slow: dict[Side, History],
        detectors: dict[Side, OnsetDetector],
    ) -> MovementEvent | None:
        if self._absorbed(m):
            return None
        cfg = self._cfg
        partner = self._partner(m, d)
        if partner is not None:
            self._pending.remove(partner)
        a0 = m.onset - self._pre
        env = {s: histories[s].window(a0, min(d, histories[s].end)) for s in Side}
        rest = {s: detectors[s].rest_at(m.onset) if s in detectors else None for s in Side}
        excess: dict[Side, FloatArray] = {}
        for s in Side:
            e, v = env[s]
            r = rest[s]
            level = r[0] if r is not None else 0.0
            excess[s] = np.where(v, np.maximum(e - level, 0.0), 0.0)
        task = self._task_at(m.onset / cfg.fs)
        active, contra = m, partner
        if partner is not None:
            if task.active is not None and task.active in (m.side, partner.side):
                if partner.side is task.active:
                    active, contra = partner, m
            elif excess[partner.side].max() > excess[m.side].max():
                active, contra = partner, m
        a, c = active.side, active.side.other
        completeness = {s: float(env[s][1].mean()) if env[s][1].size else 0.0 for s in Side}
        peak_a, peak_c = float(excess[a].max()), float(excess[c].max())
        coupling, xlag = _coupling(excess[a], excess[c], self._post)
        begin = self._begin(active, excess[a], env[a][1], a0, rest[a])
        # When both hands are in bouts of continuous activity (eating, dressing), the
        # other hand's activity is its own however it lines up with this movement: a
        # hand busy on its own moves within a quarter second of any movement of the
        # other about as often as not. (The other hand alone being busy is not enough:
        # on the PADS sessions, a movement every few seconds, that lost one copy in
        # ten at 0.2 and 0.35.)
        own_bout = task.active is None and all(
            s in detectors and detectors[s].busy_at(active.onset) for s in Side
        )
        if own_bout and contra is not None:
            self._pending.append(contra)  # its own movement, with an event of its own
            contra = None
        independent = False  # the other hand's own movement, begun together with this one
        begin_c = 0
        if contra is not None:
            begin_c = self._begin(contra, excess[c], env[c][1], a0, rest[c])
            # A weaker onset of the other hand that began before this movement's (a
            # tremor burst, a fidget) is no copy, nor is one that does not follow this
            # movement's shape. Begun with this one, and voluntary by the same checks,
            # the latter is both hands moving on purpose (two hands rarely share a
            # shape when they do different things); else it is a movement of its own.
            leads = begin_c - begin < -self._lead
            late = begin_c - begin >= self._post  # past the lag window: not time-locked
            if late or (
                peak_c < cfg.bimanual_ratio * peak_a and (leads or coupling < cfg.min_coupling)
            ):
                independent = (
                    not leads
                    and task.active is None
                    and abs(begin_c - begin) < cfg.bimanual_max_lag * cfg.fs
                    and self._voluntary(c, peak_c, begin_c, a0, d, slow, detectors)
                )
                if not independent:
                    self._pending.append(contra)
                    contra = None
        start = begin - active.delay  # fractional grid row where the active hand began
        lag: float | None = None  # rows from the active to the other hand's onset
        rest_c = rest[c]
        copy_ratio: float | None = None  # the matched amplitude, when only it saw the copy
        if contra is None and rest_c is not None and not own_bout:
            past = histories[c].window(a0 - self._null_rows, a0)
            copy = self._match(excess[a], env[c], rest_c, past)
            z = -math.inf if copy is None else copy.score
            if (
                peak_c > cfg.k_mirror * rest_c[1]
                and coupling >= cfg.min_coupling
                and peak_c >= cfg.min_copy_ratio * peak_a  # weaker is body motion or noise
            ):
                lag = xlag if z >= cfg.z_gate else None  # a peak of another shape: not a copy
                if xlag >= self._post or (xlag <= -self._lead and peak_c <= peak_a):
                    # best at the window's edge, or a weaker hand leading: not a copy
                    lag = None
            elif (
                copy is not None
                and z >= cfg.z_copy
                and copy.ratio >= cfg.min_copy_ratio
                and -self._lead < copy.lag < self._post  # at an edge it is no measurement
            ):
                lag, copy_ratio = copy.lag, copy.ratio
        if contra is not None:
            lag = begin_c - begin
        elif lag is not None and (peak_c > peak_a or task.active is c):
            # The other hand is the one moving on purpose. If a movement of its
            # own covers this onset, this is that movement's late copy, already
            # in its event; else its onset fell inside activity of its own still
            # going on, so only the copy was seen and the event is that hand's.
            if self._inside_movement(c, m.onset, d):
                return None
            # A movement of its own starting later in the window gets its own
            # event: then this onset stays this hand's (a twitch, mostly), and that
            # stronger movement is no copy of it. Nor is this onset a copy of that
            # hand's activity if it leads it, or follows it only at the window's edge.
            if self._starts_within(c, a0, d) or not -self._post < lag < self._lead:
                lag = copy_ratio = None
            else:
                a, c, peak_a, peak_c = c, a, peak_c, peak_a
                start, lag, xlag = start + lag, -lag, -xlag
                copy_ratio = None
        if not self._voluntary(a, peak_a, round(start + active.delay), a0, d, slow, detectors):
            return None
        end = self._end_row(active, d)
        if end is not None and end - begin < self._min_dur:
            return None  # a glitch or a twitch, however strong
        both_busy = own_bout and peak_c >= detectors[c].min_peak  # moving on its own now
        ratio = peak_c / peak_a if (lag is not None or both_busy) and peak_a > 0 else 0.0
        if copy_ratio is not None:
            ratio = copy_ratio  # the peak of a copy under the rest noise is mostly noise
        lag_ms = None if lag is None else lag / cfg.fs * 1000.0
        if lag is not None:
            # Late by its onset and by its whole envelope (body-driven motion reaches both
            # wrists at once, whatever the noisy onsets say); negative: the weaker hand led.
            together = min(lag, xlag) < cfg.bimanual_max_lag * cfg.fs
            intended = task.active is a
            strong = ratio >= cfg.bimanual_ratio
            both = (strong and together and not intended) or independent
            kind = Kind.BIMANUAL if both else Kind.MIRROR
        elif both_busy:
            kind = Kind.BIMANUAL
        else:
            incomplete = rest_c is None or completeness[c] < cfg.min_completeness
            kind = Kind.INDETERMINATE if incomplete else Kind.UNIMANUAL
        self._recent.append(_Decided(active, absorbs=lag is not None))
        return MovementEvent(
            t_onset=start / cfg.fs,
            t_offset=None if end is None else end / cfg.fs,
            active=a,
            kind=kind,
            mirror_ratio=ratio,
            lag_ms=lag_ms,
            coupling=coupling,
            grade=grade(ratio, cfg.grade_ratios) if kind is Kind.MIRROR else 0,
            peak_active=peak_a,
            peak_contra=peak_c,
            completeness=completeness,
            detected_at=active.detected / cfg.fs,
            decided_at=d / cfg.fs,
            task=task.name,
        )


# Fraction of its peak from which a movement's rise is searched back: real movements
# start with sub-movements of a fifth to a half of the peak (PADS task recordings), and
# fidgets before a movement stay well under a fifth of it.
_RISE = 0.2


def _rise(slow: History, a0: int, begin: int, d: int) -> float:
    """How far the slow envelope rose from its least before `begin` (from `a0`) to its
    most from `begin` to row `d`."""
    before, ok_before = slow.window(a0, begin + 1)
    after, ok_after = slow.window(begin, min(d, slow.end))
    if not ok_before.any() or not ok_after.any():
        return math.inf  # nothing to judge by: the other checks decide
    return float(after[ok_after].max() - before[ok_before].min())


def grade(ratio: float, thresholds: tuple[float, float, float]) -> int:
    """Woods & Teuber-like grade 1-4 of detected mirror activity of size `ratio`."""
    return 1 + sum(ratio >= t for t in thresholds)


def _coupling(a: FloatArray, c: FloatArray, max_lag: int) -> tuple[float, int]:
    """Peak Pearson correlation of `c` delayed by -max_lag..max_lag rows, and its lag."""
    # At flush one hand's history can end before the other's: compare the common span,
    # with at least 3 rows overlapping (a lag past the span would slice from the end).
    n = min(a.shape[0], c.shape[0])
    a, c = a[:n], c[:n]
    reach = min(max_lag, n - 3)
    best, best_lag = 0.0, 0
    for lag in range(-reach, reach + 1):
        if lag >= 0:
            x, y = a[: n - lag], c[lag:]
        else:
            x, y = a[-lag:], c[: n + lag]
        xs, ys = x - x.mean(), y - y.mean()
        den = float(np.sqrt(np.dot(xs, xs) * np.dot(ys, ys)))
        if den > 0:
            r = float(np.dot(xs, ys)) / den
            if r > best:
                best, best_lag = r, lag
    return best, best_lag


def _order(item: tuple[int, Movement]) -> tuple[int, int, str]:
    d, m = item
    return d, m.onset, m.side.value
