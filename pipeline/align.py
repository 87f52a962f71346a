"""Both wrists onto one time grid, with per-sample validity.

Samples of each side arrive irregularly and in their own blocks. The aligner
resamples them by linear interpolation onto the grid t_k = k / fs and emits a
grid point once every side either covers it or has lagged the other side by
more than `max_wait` (then that side is missing there). Spans longer than
`max_gap` and spans with known lost samples are missing, never bridged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sensors.types import FloatArray, ImuBlock, Side

BoolArray = npt.NDArray[np.bool_]

_EPS = 1e-9


@dataclass(frozen=True, slots=True, eq=False)
class SideChunk:
    """One side's rows of an aligned chunk; values are NaN where `valid` is False."""

    acc: FloatArray  # (n, 3) m/s^2
    gyr: FloatArray | None  # (n, 3) rad/s
    valid: BoolArray  # (n,)


@dataclass(frozen=True, slots=True, eq=False)
class AlignedChunk:
    """Grid rows [start, start + n) of both sides."""

    start: int  # grid index of the first row
    t: FloatArray  # (n,) session seconds
    sides: dict[Side, SideChunk]

    def __len__(self) -> int:
        return int(self.t.shape[0])


@dataclass(slots=True)
class AlignStats:
    """Samples the aligner could not use, per side."""

    late: dict[Side, int] = field(default_factory=lambda: {Side.L: 0, Side.R: 0})
    lost: dict[Side, int] = field(default_factory=lambda: {Side.L: 0, Side.R: 0})


class _SideBuffer:
    """Samples of one side not yet behind the grid, plus the one just before it."""

    def __init__(self) -> None:
        self.t: FloatArray = np.empty(0)
        self.x: FloatArray = np.empty((0, 6))
        self.gap_before: BoolArray = np.empty(0, dtype=bool)
        self.has_gyro: bool | None = None
        self.watermark = -math.inf

    def append(self, block: ImuBlock, stats: AlignStats) -> None:
        if self.has_gyro is None:
            self.has_gyro = block.gyr is not None
            self.x = np.empty((0, 6 if self.has_gyro else 3))
        elif self.has_gyro != (block.gyr is not None):
            raise ValueError(f"side {block.side} changed gyroscope presence mid-session")
        stats.lost[block.side] += block.lost
        keep = block.t > self.watermark
        n_late = int(np.count_nonzero(~keep))
        if n_late:
            stats.late[block.side] += n_late
        t = block.t[keep]
        if t.size == 0:
            return
        x = block.acc if block.gyr is None else np.hstack((block.acc, block.gyr))
        gap = np.zeros(t.size, dtype=bool)
        gap[0] = block.lost > 0 or n_late > 0
        self.t = np.concatenate((self.t, t))
        self.x = np.concatenate((self.x, x[keep]))
        self.gap_before = np.concatenate((self.gap_before, gap))
        self.watermark = float(t[-1])

    def sample(self, tk: FloatArray, max_gap: float) -> tuple[FloatArray, BoolArray]:
        """Interpolated values at grid times `tk` and whether each is trustworthy."""
        n, m = tk.size, self.t.size
        c = 6 if self.has_gyro else 3
        out = np.full((n, c), np.nan)
        valid = np.zeros(n, dtype=bool)
        if m == 0:
            return out, valid
        right = np.searchsorted(self.t, tk + _EPS, side="right")
        left = right - 1
        exact = (left >= 0) & (np.abs(tk - self.t[np.maximum(left, 0)]) <= _EPS)
        inner = (left >= 0) & (right < m) & ~exact
        li, ri = left[inner], right[inner]
        span = self.t[ri] - self.t[li]
        ok = (span <= max_gap) & ~self.gap_before[ri]
        w = ((tk[inner] - self.t[li]) / span)[:, None]
        vals = self.x[li] * (1.0 - w) + self.x[ri] * w
        vals[~ok] = np.nan
        out[inner] = vals
        valid[inner] = ok
        out[exact] = self.x[left[exact]]
        valid[exact] = True
        return out, valid

    def trim(self, t_last: float) -> None:
        """Drop samples no later grid point can need (keep the last one at or before)."""
        j = int(np.searchsorted(self.t, t_last + _EPS, side="right")) - 1
        if j > 0:
            self.t = self.t[j:]
            self.x = self.x[j:]
            self.gap_before = self.gap_before[j:]


class Aligner:
    """Resamples both sides onto the grid k / fs; see the module docstring."""

    def __init__(self, fs: float, max_wait: float, max_gap: float) -> None:
        self._fs = fs
        self._max_wait = max_wait
        self._max_gap = max_gap
        self._buffers: dict[Side, _SideBuffer] = {}
        self._next: int | None = None
        self.stats = AlignStats()
        self.reset()

    def process(self, block: ImuBlock) -> AlignedChunk | None:
        """Take one block; return the grid rows that became complete, if any."""
        if len(block) == 0:
            return None
        self._buffers[block.side].append(block, self.stats)
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
        self._buffers = {Side.L: _SideBuffer(), Side.R: _SideBuffer()}
        self._next = None
        self.stats = AlignStats()

    def _emit(self, final: bool) -> AlignedChunk | None:
        assert self._next is not None
        fs = self._fs
        high = max(b.watermark for b in self._buffers.values())
        k_end = math.floor(high * fs + _EPS)
        if not final:
            waited = high - self._max_wait
            timed_out = math.ceil(waited * fs - _EPS) - 1 if math.isfinite(waited) else -1
            for buf in self._buffers.values():
                covered = math.floor(buf.watermark * fs + _EPS) if buf.t.size else -1
                k_end = min(k_end, max(covered, timed_out))
        if k_end < self._next:
            return None
        k = np.arange(self._next, k_end + 1)
        t = k / fs
        sides: dict[Side, SideChunk] = {}
        for side, buf in self._buffers.items():
            x, valid = buf.sample(t, self._max_gap)
            if buf.has_gyro is None:
                x = np.full((t.size, 3), np.nan)
            gyr = x[:, 3:6] if x.shape[1] == 6 else None
            sides[side] = SideChunk(acc=x[:, :3], gyr=gyr, valid=valid)
            buf.trim(float(t[-1]))
        chunk = AlignedChunk(start=self._next, t=t, sides=sides)
        self._next = k_end + 1
        return chunk
