"""Types shared by every source and by the pipeline (DESIGN.md §3).

Times are seconds on the session clock: seconds since the session started,
from the host's monotonic clock. Acceleration is m/s^2, angular rate rad/s.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

STANDARD_GRAVITY = 9.80665  # m/s^2 per g (CGPM 1901); every g <-> m/s^2 conversion uses it


class Side(StrEnum):
    """Which wrist a sample belongs to."""

    L = "L"
    R = "R"

    @property
    def other(self) -> Side:
        return Side.R if self is Side.L else Side.L


@dataclass(frozen=True, slots=True)
class RawPacket:
    """Bytes of one BLE notification, stamped on arrival.

    `received_at` is session seconds read by the notification callback; decoding
    happens later, off the callback, so the stamp is as close to the radio as we get.
    """

    side: Side
    received_at: float
    data: bytes


@dataclass(frozen=True, slots=True, eq=False)
class ImuBlock:
    """Consecutive samples of one wrist.

    `t` (n,) session seconds, strictly increasing; `acc` (n, 3) m/s^2; `gyr` (n, 3)
    rad/s or None for accelerometer-only sensors; `seq` is the sequence number of
    the first packet; `lost` counts samples known lost just before this block.
    """

    side: Side
    t: FloatArray
    acc: FloatArray
    gyr: FloatArray | None
    seq: int = 0
    lost: int = 0

    def __post_init__(self) -> None:
        n = self.t.shape[0] if self.t.ndim == 1 else -1
        if n < 0 or self.acc.shape != (n, 3):
            raise ValueError(f"block shapes disagree: t {self.t.shape}, acc {self.acc.shape}")
        if self.gyr is not None and self.gyr.shape != (n, 3):
            raise ValueError(f"block shapes disagree: t {self.t.shape}, gyr {self.gyr.shape}")
        if n > 1 and not _increasing(self.t):
            raise ValueError("block timestamps must be strictly increasing")
        if self.lost < 0:
            raise ValueError("lost must be >= 0")

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def has_gyro(self) -> bool:
        return self.gyr is not None

    def slice(self, start: int, stop: int) -> ImuBlock:
        """Samples [start, stop) as a new block; `lost` stays with the first slice."""
        return ImuBlock(
            side=self.side,
            t=self.t[start:stop],
            acc=self.acc[start:stop],
            gyr=None if self.gyr is None else self.gyr[start:stop],
            seq=self.seq,
            lost=self.lost if start == 0 else 0,
        )


def _increasing(t: FloatArray) -> bool:
    # Live blocks hold a few samples, where Python floats beat numpy's per-call cost.
    if t.shape[0] <= 32:
        v = t.tolist()
        return all(a < b for a, b in itertools.pairwise(v))
    return bool((t[1:] > t[:-1]).all())
