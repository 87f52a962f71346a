"""Polar Measurement Data (PMD) accelerometer and gyroscope streams, e.g. Verity Sense.

Sources: Polar's "Polar Measurement Data Specification" and the open Polar BLE SDK
(github.com/polarofficial/polar-ble-sdk: PmdDataFrame, AccData, GyrData,
PmdTimeStampUtils, TimeSystemExplained.md); see firmware_notes/polar_pmd.md.

A PMD data notification (characteristic FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8):

    off size field
    0   u8   measurement type (low 6 bits): 2 ACC, 5 GYRO
    1   u64  timestamp of the frame's LAST sample, ns since 2000-01-01 (sensor time)
    9   u8   frame type: bit7 delta-compressed, bits0-6 type number
    10  ...  samples

Uncompressed ACC types 0/1/2: x y z as int8/int16/int24 LE, in mG. Compressed (bit7):
a reference sample (each channel a signed LE integer of ceil(resolution/8) bytes), then
delta blocks: u8 bit width w, u8 sample count c, then c * channels * w bits, LSB first,
channel-interleaved, signed two's complement, padded to a byte; each delta adds to the
previous sample. Compressed ACC type 0: value * factor = g; type 1: value * factor = mG.
Compressed GYRO type 0: value * factor = deg/s. Compressed GYRO type 1 (the SDK's
dataFromCompressedType1): 32-bit channels holding IEEE-754 float32 bit patterns in deg/s;
the deltas are added to the bit patterns as int32 (wrapping), and only then read as
floats, times the factor. `factor` is the float32 FACTOR setting (type 5) of the
start-measurement response; the client reads it and passes it here. Other frame types
(uncompressed gyro, which the SDK does not decode either) are counted as
Reason.VERSION, never guessed at.

Sample times: sample n-1 is at the frame's timestamp; the others are spread evenly back
to the previous frame's timestamp of the same stream, or at 1/sample_rate for the first
frame (as the SDK does); when that spacing is off by more than half a sample period, a
frame went missing and the nominal period is used instead.

ACC and GYRO arrive as separate notifications; an ImuBlock needs both on one time base,
so with `gyro=True` the gyroscope is interpolated linearly onto the accelerometer's
sample times and accelerometer samples without bracketing gyro samples are dropped and
counted (Reason.UNPAIRED, in samples). Frames cannot be concatenated: a notification
has no length field, its end is the frame's end.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from sensors.protocols.base import Frame, MalformedPacket, Reason, SkipCounter
from sensors.types import STANDARD_GRAVITY, FloatArray

__all__ = [
    "CONTROL_UUID",
    "DATA_UUID",
    "EPOCH_UNIX_NS",
    "SERVICE_UUID",
    "Measurement",
    "PmdFrame",
    "PolarPmdDecoder",
    "parse_frame",
]

IntArray = npt.NDArray[np.int64]

SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
EPOCH_UNIX_NS = 946_684_800_000_000_000  # 2000-01-01T00:00:00Z in Unix ns
HEADER_SIZE = 10
_COMPRESSED = 0x80
_HEADER = struct.Struct("<BQB")
_MAX_WAIT = 1.0  # s of accelerometer held back waiting for gyro samples
_MAX_BRACKET = 2.5  # sample periods: wider gyro gaps are not interpolated across


class Measurement(IntEnum):
    ACC = 2
    GYRO = 5


# (measurement, compressed, frame type) -> (resolution bits, physical unit per raw count
# before the factor: m/s^2 for ACC, rad/s for GYRO)
_MG = STANDARD_GRAVITY / 1000.0
_FORMATS: dict[tuple[int, bool, int], tuple[int, float]] = {
    (Measurement.ACC, False, 0): (8, _MG),
    (Measurement.ACC, False, 1): (16, _MG),
    (Measurement.ACC, False, 2): (24, _MG),
    (Measurement.ACC, True, 0): (16, STANDARD_GRAVITY),
    (Measurement.ACC, True, 1): (16, _MG),
    (Measurement.GYRO, True, 0): (16, math.radians(1.0)),
    (Measurement.GYRO, True, 1): (32, math.radians(1.0)),  # float32 deg/s, see _FLOATS
}
# formats whose integers are float32 bit patterns (GyrData.dataFromCompressedType1)
_FLOATS = frozenset({(Measurement.GYRO, True, 1)})


@dataclass(frozen=True, slots=True, eq=False)
class PmdFrame:
    """One parsed notification: `raw` (n, 3) integer samples before unit and factor."""

    measurement: Measurement
    timestamp: int
    frame_type: int
    compressed: bool
    raw: IntArray | FloatArray  # float64 for float32 formats (GYRO compressed type 1)

    @property
    def unit(self) -> float:
        """Physical unit of one raw count times the FACTOR setting (m/s^2 or rad/s)."""
        return _FORMATS[(self.measurement, self.compressed, self.frame_type)][1]


def parse_frame(data: bytes) -> PmdFrame:
    """Bytes of one PMD data notification -> PmdFrame; MalformedPacket says why not."""
    if len(data) < HEADER_SIZE:
        raise MalformedPacket(Reason.TRUNCATED, f"{len(data)} bytes < header {HEADER_SIZE}")
    kind, timestamp, frame_byte = _HEADER.unpack_from(data)
    compressed, frame_type = bool(frame_byte & _COMPRESSED), frame_byte & ~_COMPRESSED
    fmt = _FORMATS.get((kind & 0x3F, compressed, frame_type))
    if fmt is None:
        raise MalformedPacket(Reason.VERSION, f"measurement {kind}, frame type 0x{frame_byte:02x}")
    bits = fmt[0]
    body = data[HEADER_SIZE:]
    raw = _delta_decode(body, 3, bits) if compressed else _plain_decode(body, 3, bits)
    if raw.shape[0] == 0:
        raise MalformedPacket(Reason.PAYLOAD, "no samples")
    if (kind & 0x3F, compressed, frame_type) in _FLOATS:
        return PmdFrame(
            Measurement(kind & 0x3F), timestamp, frame_type, compressed, _as_float32(raw)
        )
    return PmdFrame(Measurement(kind & 0x3F), timestamp, frame_type, compressed, raw)


def _as_float32(raw: IntArray) -> FloatArray:
    """int32 bit patterns (summed as int64) -> their float32 values; not finite: counted."""
    values = (raw & 0xFFFFFFFF).astype(np.uint32).view(np.float32).astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise MalformedPacket(Reason.PAYLOAD, "float sample is NaN or infinite")
    return values


def _signed(buf: bytes, channels: int, width: int) -> IntArray:
    """Little-endian signed integers of `width` bytes, as (k, channels)."""
    b = np.frombuffer(buf, dtype=np.uint8).reshape(-1, width).astype(np.int64)
    value = (b << (8 * np.arange(width, dtype=np.int64))).sum(axis=1)
    value -= (value >> (8 * width - 1)) << (8 * width)
    out: IntArray = value.reshape(-1, channels)
    return out


def _plain_decode(body: bytes, channels: int, bits: int) -> IntArray:
    size = channels * bits // 8
    if len(body) % size:
        raise MalformedPacket(Reason.LENGTH, f"{len(body)} bytes is no whole number of {size}")
    return _signed(body, channels, bits // 8)


def _delta_decode(body: bytes, channels: int, bits: int) -> IntArray:
    ref_size = channels * ((bits + 7) // 8)
    if len(body) < ref_size:
        raise MalformedPacket(Reason.PAYLOAD, f"{len(body)} bytes < reference sample")
    parts = [_signed(body[:ref_size], channels, (bits + 7) // 8)]
    off = ref_size
    while off < len(body):
        if off + 2 > len(body):
            raise MalformedPacket(Reason.PAYLOAD, "delta block header cut short")
        width, count = body[off], body[off + 1]
        off += 2
        size = (width * count * channels + 7) // 8
        if not 1 <= width <= 32 or off + size > len(body):
            raise MalformedPacket(Reason.PAYLOAD, f"delta block w={width} c={count} at {off}")
        packed = np.frombuffer(body, dtype=np.uint8, count=size, offset=off)
        bitv = np.unpackbits(packed, bitorder="little")[: width * count * channels]
        weights = np.int64(1) << np.arange(width, dtype=np.int64)
        delta = bitv.reshape(-1, width).astype(np.int64) @ weights
        delta -= (delta >> (width - 1)) << width
        if count:  # an empty block adds no sample; the SDK's parser steps over it too
            parts.append(parts[-1][-1] + np.cumsum(delta.reshape(count, channels), axis=0))
        off += size
    return np.concatenate(parts)


class PolarPmdDecoder:
    """PMD ACC (+ GYRO) notifications -> Frames on the sensor's ns clock.

    `sample_rate` Hz of both streams (the start-measurement setting); `acc_factor` and
    `gyr_factor` the FACTOR settings; `gyro` False: accelerometer only, GYRO ignored.
    """

    __slots__ = (
        "_acc_factor",
        "_gyr_factor",
        "_gyr_t",
        "_gyr_v",
        "_gyro",
        "_last",
        "_pending_t",
        "_pending_v",
        "_restarted",
        "_sample_rate",
        "_skips",
    )

    seq_modulus: int | None = None
    tick_modulus: int | None = None  # u64 ns: never wraps

    def __init__(
        self,
        *,
        sample_rate: float = 52.0,
        acc_factor: float = 1.0,
        gyr_factor: float = 1.0,
        gyro: bool = True,
    ) -> None:
        if not sample_rate > 0:
            raise ValueError("sample_rate must be > 0")
        self._sample_rate = sample_rate
        self._acc_factor = acc_factor
        self._gyr_factor = gyr_factor
        self._gyro = gyro
        self._skips = SkipCounter()
        self._last: dict[Measurement, int] = {}  # last sample timestamp per stream, ns
        self._restarted = False
        empty_t, empty_v = np.empty(0, np.int64), np.empty((0, 3))
        self._pending_t, self._pending_v = empty_t, empty_v  # accelerometer awaiting gyro
        self._gyr_t, self._gyr_v = empty_t, empty_v

    def skipped(self) -> Mapping[Reason, int]:
        return self._skips.snapshot()

    def decode(self, data: bytes) -> list[Frame]:
        try:
            frame = parse_frame(data)
        except MalformedPacket as e:
            self._skips.add(e.reason)
            return []
        if frame.measurement is Measurement.GYRO and not self._gyro:
            return []
        t = self._sample_times(frame)
        if t is None:
            return []
        factor = self._acc_factor if frame.measurement is Measurement.ACC else self._gyr_factor
        values = frame.raw.astype(np.float64) * (frame.unit * factor)
        if not np.all(np.isfinite(values)):  # a float frame's huge value times the factor
            self._skips.add(Reason.PAYLOAD)
            return []
        if not self._gyro:
            return [self._frame(t, values, None)]
        if frame.measurement is Measurement.ACC:
            self._pending_t = np.concatenate((self._pending_t, t))
            self._pending_v = np.concatenate((self._pending_v, values))
        else:
            self._gyr_t = np.concatenate((self._gyr_t, t))
            self._gyr_v = np.concatenate((self._gyr_v, values))
        return self._pair()

    def _sample_times(self, frame: PmdFrame) -> IntArray | None:
        """ns timestamps of the frame's samples; None (counted) when they cannot be placed."""
        n, ts = frame.raw.shape[0], frame.timestamp
        period = 1e9 / self._sample_rate
        prev = self._last.get(frame.measurement)
        if prev is not None and ts < prev:
            # sensor time was set back or reset: forget both streams' history
            if self._pending_t.size:
                self._skips.add(Reason.UNPAIRED, self._pending_t.size)
            self._last.clear()
            self._restarted = True
            self._pending_t, self._gyr_t = self._pending_t[:0], self._gyr_t[:0]
            self._pending_v, self._gyr_v = self._pending_v[:0], self._gyr_v[:0]
            prev = None
        if ts >= 1 << 63 or (prev is not None and ts - prev < n):
            # beyond int64 (year 2292), a repeated frame, or samples < 1 ns apart
            self._skips.add(Reason.TIMESTAMP)
            return None
        self._last[frame.measurement] = ts
        k = np.arange(n - 1, -1, -1, dtype=np.int64)
        if prev is not None and ts - prev <= 1.5 * n * period:
            back: IntArray = (ts - prev) * k // n
        else:
            back = np.rint(period * k).astype(np.int64)
        return ts - back

    def _pair(self) -> list[Frame]:
        """Accelerometer samples now bracketed by gyro samples, with gyro interpolated."""
        at, gt = self._pending_t, self._gyr_t
        if at.size == 0:
            return []
        ready = at <= gt[-1] if gt.size else np.zeros(at.size, dtype=bool)
        # accelerometer that waited too long for gyro samples that never came
        done = ready | (at < at[-1] - _MAX_WAIT * 1e9)
        t, acc, gyr = at[:0], self._pending_v[:0], self._gyr_v[:0]
        if ready.any():
            t = at[ready]
            hi = np.searchsorted(gt, t)  # first gyro sample at or after t
            lo = np.maximum(hi - 1, 0)
            span = gt[hi] - gt[lo]
            ok = (t >= gt[0]) & (span <= _MAX_BRACKET * 1e9 / self._sample_rate)
            w = np.where(span > 0, (t - gt[lo]) / np.maximum(span, 1), 1.0)[:, None]
            gyr = ((1.0 - w) * self._gyr_v[lo] + w * self._gyr_v[hi])[ok]
            acc = self._pending_v[ready][ok]
            t = t[ok]
        if unpaired := int(np.count_nonzero(done)) - t.size:
            self._skips.add(Reason.UNPAIRED, unpaired)
        if done.any():
            # keep the gyro samples from the last one at or before the newest consumed one
            start = max(0, int(np.searchsorted(gt, at[done][-1], side="right")) - 1)
            self._gyr_t, self._gyr_v = gt[start:], self._gyr_v[start:]
        self._pending_t, self._pending_v = at[~done], self._pending_v[~done]
        return [self._frame(t, acc, gyr)] if t.size else []

    def _frame(self, t: IntArray, acc: FloatArray, gyr: FloatArray | None) -> Frame:
        restarted, self._restarted = self._restarted, False
        return Frame(
            tick=int(t[0]),
            tick_hz=1e9,
            offsets=(t - t[0]).astype(np.float64) / 1e9,
            odr_hz=self._sample_rate,
            acc=acc,
            gyr=gyr,
            restarted=restarted,
        )
