"""Both wrists onto one time grid, with per-row validity.

Samples of each side arrive irregularly and in their own blocks. The aligner
resamples them by linear interpolation onto the grid t_k = k / fs and emits a
grid row once every side either covers it or has lagged the other side by
more than `max_wait` (then that side is missing there). Spans between two
samples longer than the side's gap limit are missing, never bridged; shorter ones
are interpolated, and any loss is still counted in the stats. The limit is
`max_gap` for a side with a gyroscope, where bridging a lost packet or two is
benign, and `max_gap_no_gyro` without one: that envelope is a derivative, and a
bridge's kinks become steps in it.

Blocks are a few samples each, so this works on Python floats: for arrays of
four rows, numpy's per-call cost is larger than the arithmetic.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

from sensors.types import ImuBlock, Side

Row = list[float]  # acc x, y, z (m/s^2) then, with a gyroscope, gyr x, y, z (rad/s)

_EPS = 1e-9
_L, _R = Side.L, Side.R  # reading an enum member off its class costs ~0.4 us each time


@dataclass(frozen=True, slots=True)
class AlignedChunk:
    """Grid rows [start, start + n) of both sides; a row is None where it is missing."""

    start: int  # grid index of the first row
    n: int
    rows: dict[Side, list[Row | None]]
    has_gyro: dict[Side, bool | None]  # None: that side has sent nothing yet


@dataclass(slots=True)
class AlignStats:
    """Samples the aligner could not use, per side."""

    late: dict[Side, int] = field(default_factory=lambda: {Side.L: 0, Side.R: 0})
    lost: dict[Side, int] = field(default_factory=lambda: {Side.L: 0, Side.R: 0})


class _SideBuffer:
    """Samples of one side not yet behind the grid, plus the one just before it."""

    __slots__ = ("covered", "fs", "has_gyro", "t", "watermark", "x")

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self.t: list[float] = []
        self.x: list[Row] = []
        self.has_gyro: bool | None = None
        self.watermark = -math.inf
        self.covered = -1  # last grid index the samples reach, -1 before any

    def append(self, block: ImuBlock, stats: AlignStats) -> bool:
        """Buffer the block's samples; False if it held none that were not late."""
        t = block.t.tolist()
        if not t:
            return False
        if self.has_gyro is None:
            self.has_gyro = block.gyr is not None
        elif self.has_gyro != (block.gyr is not None):
            raise ValueError(f"side {block.side} changed gyroscope presence mid-session")
        if block.lost:
            stats.lost[block.side] += block.lost
        rows = block.acc.tolist()
        if block.gyr is not None:  # joining Python lists beats np.concatenate on 4 rows
            rows = list(map(operator.add, rows, block.gyr.tolist()))  # same length: shapes checked
        if t[0] <= self.watermark:
            late = 0
            while late < len(t) and t[late] <= self.watermark:
                late += 1
            stats.late[block.side] += late
            t, rows = t[late:], rows[late:]
            if not t:
                return False
        self.t.extend(t)
        self.x.extend(rows)
        self.watermark = t[-1]
        self.covered = math.floor(self.watermark * self.fs + _EPS)
        return True

    def sample(self, k0: int, k1: int, fs: float, max_gap: float) -> list[Row | None]:
        """Interpolated rows at grid indices [k0, k1], then drop samples behind them."""
        ts, xs = self.t, self.x
        last = len(ts) - 1
        if last < 0:
            return [None] * (k1 + 1 - k0)  # before this side's first sample
        out: list[Row | None] = []
        eps = _EPS
        six = bool(self.has_gyro)  # rows of acc x, y, z, then gyr x, y, z if known
        # ts[j] and ts[j + 1] live in t0 and t1 (inf past the last sample): this loop
        # runs once per grid row and side, and indexing costs more than the arithmetic.
        j = 0
        t0 = ts[0]
        t1 = ts[1] if last > 0 else math.inf
        for k in range(k0, k1 + 1):
            tk = k / fs
            high = tk + eps
            while t1 <= high:
                j += 1
                t0 = t1
                t1 = ts[j + 1] if j < last else math.inf
            if t0 > high:
                out.append(None)  # before this side's first sample
            elif t0 >= tk - eps:
                out.append(xs[j])  # a sample right on the grid
            elif j == last:
                out.append(None)  # timed out: nothing after the last sample yet
            else:
                span = t1 - t0
                if span > max_gap:
                    out.append(None)
                else:
                    w = (tk - t0) / span
                    out.append(_lerp6(xs[j], xs[j + 1], w) if six else _lerp3(xs[j], xs[j + 1], w))
        if j > 0:
            del ts[:j], xs[:j]
        return out


# a + w * (b - a) per channel, spelled out: a comprehension over zip costs ~3x.


def _lerp6(a: Row, b: Row, w: float) -> Row:
    a0, a1, a2, a3, a4, a5 = a
    b0, b1, b2, b3, b4, b5 = b
    return [
        a0 + w * (b0 - a0),
        a1 + w * (b1 - a1),
        a2 + w * (b2 - a2),
        a3 + w * (b3 - a3),
        a4 + w * (b4 - a4),
        a5 + w * (b5 - a5),
    ]


def _lerp3(a: Row, b: Row, w: float) -> Row:
    a0, a1, a2 = a
    b0, b1, b2 = b
    return [a0 + w * (b0 - a0), a1 + w * (b1 - a1), a2 + w * (b2 - a2)]


class Aligner:
    """Resamples both sides onto the grid k / fs; see the module docstring."""

    def __init__(self, fs: float, max_wait: float, max_gap: float, max_gap_no_gyro: float) -> None:
        self._fs = fs
        self._max_wait = max_wait
        self._gap = {True: max_gap, False: max_gap_no_gyro}
        self._buffers: dict[Side, _SideBuffer] = {}
        self._next: int | None = None
        self.stats = AlignStats()
        self.reset()

    def feed(self, block: ImuBlock) -> AlignedChunk | None:
        """Take one block; return the grid rows that became complete, if any."""
        if not self._buffers[block.side].append(block, self.stats):
            return None  # empty or all late: what could be emitted already was
        if self._next is None:
            self._next = math.ceil(float(block.t[0]) * self._fs - _EPS)
        return self._emit(final=False)

    def flush(self) -> AlignedChunk | None:
        """Emit every remaining grid row; sides without data there are missing."""
        if self._next is None:
            return None
        return self._emit(final=True)

    def reset(self) -> None:
        """Forget all samples, as at session start."""
        self._left, self._right = _SideBuffer(self._fs), _SideBuffer(self._fs)
        self._buffers = {Side.L: self._left, Side.R: self._right}
        self._next = None
        self.stats = AlignStats()

    def _emit(self, final: bool) -> AlignedChunk | None:
        assert self._next is not None
        fs = self._fs
        left, right = self._left, self._right
        high = max(left.watermark, right.watermark)
        k_end = math.floor(high * fs + _EPS)
        if not final:
            waited = high - self._max_wait
            timed_out = math.ceil(waited * fs - _EPS) - 1 if math.isfinite(waited) else -1
            for buf in (left, right):
                k_end = min(k_end, max(buf.covered, timed_out))
        if k_end < self._next:
            return None
        k0, gap = self._next, self._gap
        rows = {
            _L: left.sample(k0, k_end, fs, gap[bool(left.has_gyro)]),
            _R: right.sample(k0, k_end, fs, gap[bool(right.has_gyro)]),
        }
        has_gyro = {_L: left.has_gyro, _R: right.has_gyro}
        chunk = AlignedChunk(k0, k_end + 1 - k0, rows, has_gyro)  # positional: faster
        self._next = k_end + 1
        return chunk
