"""A bounded look-back of one side's activity envelope, addressed by grid index."""

from __future__ import annotations

import numpy as np

from pipeline.align import BoolArray
from sensors.types import FloatArray


class History:
    """The last `size` grid rows of an envelope and its validity.

    Memory stays bounded however long the session: older rows are overwritten,
    and reading them back gives invalid rows.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._env = np.zeros(size)
        self._valid = np.zeros(size, dtype=bool)
        self._end = 0  # one past the newest grid index written

    def write(self, start: int, env: FloatArray, valid: BoolArray) -> None:
        """Store rows [start, start + n); `start` continues where the last write ended."""
        n = env.shape[0]
        if n > self._size:
            start, env, valid = start + n - self._size, env[-self._size :], valid[-self._size :]
            n = self._size
        pos = np.arange(start, start + n) % self._size
        self._env[pos] = env
        self._valid[pos] = valid
        self._end = start + n

    def window(self, i0: int, i1: int) -> tuple[FloatArray, BoolArray]:
        """Rows [i0, i1); rows not held (too old or not yet written) are invalid zeros."""
        idx = np.arange(i0, i1)
        held = (idx >= self._end - self._size) & (idx < self._end) & (idx >= 0)
        pos = idx % self._size
        env = np.where(held, self._env[pos], 0.0)
        valid = held & self._valid[pos]
        return env, valid

    @property
    def end(self) -> int:
        return self._end
