"""The contract every protocol module fulfils: notification bytes -> `Frame`s.

A `Frame` is one decoded notification on the sensor's own clock: the raw counter of its
first sample, the counter's rate and each sample's offset in sensor seconds. Putting
frames on the session clock, turning sequence gaps into losses and building `ImuBlock`s
is the assembler's job (sensors/assembler.py), the same for every protocol.

Decoders never raise on bad bytes: they count the packet under a `Reason` and return no
frame, so one corrupt notification cannot end a stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from sensors.types import FloatArray


class Reason(StrEnum):
    """Why a packet was skipped."""

    TRUNCATED = "truncated"  # shorter than its fixed header
    VERSION = "version"  # unknown format version or measurement type
    RESERVED = "reserved"  # reserved bits set
    FIELD = "field"  # a header field out of its allowed values
    LENGTH = "length"  # byte count disagrees with the header
    PAYLOAD = "payload"  # body does not parse (bad delta block, padding)
    TIMESTAMP = "timestamp"  # sensor time repeats or cannot be placed
    UNPAIRED = "unpaired"  # gyro/acc samples with no partner from the other stream


class MalformedPacket(ValueError):
    """Raised by the pure parse functions; decoders turn it into a count."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """Samples of one notification on the sensor clock.

    `tick` is the sensor counter at the first sample as sent (wrapped), counting at
    `tick_hz`; `offsets` (n,) sensor seconds of each sample after the first (offsets[0]
    is 0); `odr_hz` nominal sample rate; `acc` (n, 3) m/s^2; `gyr` (n, 3) rad/s or None;
    `seq` the packet counter, None when the protocol has none; `restarted` True when the
    sensor says its clock restarted since its previous packet.
    """

    tick: int
    tick_hz: float
    offsets: FloatArray
    odr_hz: float
    acc: FloatArray
    gyr: FloatArray | None
    seq: int | None = None
    restarted: bool = False

    def __post_init__(self) -> None:
        n = self.offsets.shape[0]
        if n < 1 or self.offsets.shape != (n,) or self.acc.shape != (n, 3):
            raise ValueError(f"frame shapes disagree: {self.offsets.shape}, {self.acc.shape}")
        if self.gyr is not None and self.gyr.shape != (n, 3):
            raise ValueError(f"frame shapes disagree: {self.offsets.shape}, {self.gyr.shape}")
        if self.offsets[0] != 0.0 or (n > 1 and not bool(np.all(np.diff(self.offsets) > 0))):
            raise ValueError("frame offsets must start at 0 and increase")
        if not (self.tick_hz > 0 and self.odr_hz > 0):
            raise ValueError("tick_hz and odr_hz must be > 0")

    def __len__(self) -> int:
        return int(self.offsets.shape[0])


class Decoder(Protocol):
    """Bytes of one notification -> frames; counts what it skips.

    `seq_modulus`: where the packet counter wraps (None: no counter). `tick_modulus`:
    where the sensor tick wraps (None: never in practice).
    """

    @property
    def seq_modulus(self) -> int | None: ...

    @property
    def tick_modulus(self) -> int | None: ...

    def decode(self, data: bytes) -> list[Frame]: ...

    def skipped(self) -> Mapping[Reason, int]: ...


class SkipCounter:
    """Counts skipped packets by reason (shared by the decoders)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[Reason, int] = {}

    def add(self, reason: Reason, n: int = 1) -> None:
        self._counts[reason] = self._counts.get(reason, 0) + n

    def snapshot(self) -> dict[Reason, int]:
        """A copy: reason -> packets (or samples, for UNPAIRED) skipped so far."""
        return dict(self._counts)
