"""A bounded look-back of one side's activity envelope, addressed by grid index."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sensors.types import FloatArray

BoolArray = npt.NDArray[np.bool_]


class History:
    """The last `size` grid rows of an envelope (None where a row was missing).

    Memory stays bounded however long the session: older rows are overwritten,
    and reading them back gives missing rows.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._env: list[float | None] = [None] * size
        self._end = 0  # one past the newest grid index written

    def write(self, start: int, env: Sequence[float | None]) -> None:
        """Store rows [start, start + n); `start` continues where the last write ended."""
        size, buf, n = self._size, self._env, len(env)
        self._end = start + n
        if n > size:  # only the newest `size` rows are kept
            start, env, n = start + n - size, env[-size:], size
        i = start % size
        if i + n <= size:  # the usual case: no wrap around the ring's end
            buf[i : i + n] = env
            return
        head = size - i
        buf[i:] = env[:head]
        buf[: n - head] = env[head:]

    def get(self, i: int) -> float | None:
        """Row `i`, None when missing or not held."""
        if not self._end - self._size <= i < self._end or i < 0:
            return None
        return self._env[i % self._size]

    def window(self, i0: int, i1: int) -> tuple[FloatArray, BoolArray]:
        """Rows [i0, i1) as arrays: envelope (0 where missing) and presence."""
        vals = [self.get(i) for i in range(i0, i1)]
        valid = np.array([v is not None for v in vals], dtype=bool)
        env = np.array([0.0 if v is None else v for v in vals], dtype=float)
        return env, valid

    @property
    def end(self) -> int:
        return self._end
