"""MirrorWatch IMU profile v1: the notification packet (firmware_notes/packet.md).

Little-endian, a 16-byte header then n samples of int16 ax ay az [gx gy gz]:

    off size field
    0   u8   version = 1
    1   u8   flags: bit0 gyro present, bit1 clock restarted, bit2 acc excludes gravity
    2   u16  seq, packet counter, wraps at 65536
    4   u32  tick of the first sample, wraps at 2^32
    8   u32  tick_hz
    12  u16  odr_hz (50, 100, 200, 400)
    14  u8   n samples (>= 1)
    15  u8   ranges: low nibble acc code, high nibble gyro code

Physical value = raw / 32768 * full scale; sample i is at tick + i * tick_hz / odr_hz.
`encode_packet` is the reference encoder (emulated peripheral, tests, firmware authors).
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
    "FLAG_GYRO",
    "FLAG_LINEAR",
    "FLAG_RESTARTED",
    "HEADER_SIZE",
    "ODR_HZ",
    "SEQ_MODULUS",
    "TICK_MODULUS",
    "VERSION",
    "AccRange",
    "GyrRange",
    "MirrorWatchDecoder",
    "Packet",
    "StreamSplitter",
    "encode_packet",
    "packet_size",
    "parse_packet",
    "to_raw",
]

Int16Array = npt.NDArray[np.int16]

VERSION = 1
HEADER_SIZE = 16
ODR_HZ = (50, 100, 200, 400)
SEQ_MODULUS = 1 << 16
TICK_MODULUS = 1 << 32
FLAG_GYRO = 0x01
FLAG_RESTARTED = 0x02
FLAG_LINEAR = 0x04
_RESERVED_FLAGS = 0xF8
_HEADER = struct.Struct("<BBHIIHBB")
_MAX_SAMPLES = 255  # n is a u8


class AccRange(IntEnum):
    """Accelerometer full-scale code (low nibble of `ranges`)."""

    G2 = 0
    G4 = 1
    G8 = 2
    G16 = 3

    @property
    def full_scale(self) -> float:
        """m/s^2 at raw 32768."""
        return float(2 << self) * STANDARD_GRAVITY


class GyrRange(IntEnum):
    """Gyroscope full-scale code (high nibble of `ranges`)."""

    DPS125 = 0
    DPS250 = 1
    DPS500 = 2
    DPS1000 = 3
    DPS2000 = 4

    @property
    def full_scale(self) -> float:
        """rad/s at raw 32768."""
        return math.radians(125.0 * (1 << self))


@dataclass(frozen=True, slots=True, eq=False)
class Packet:
    """One v1 packet with its raw samples.

    `raw_acc` (n, 3) int16; `raw_gyr` (n, 3) int16 or None (flag bit0 clear);
    `linear`: accelerometer excludes gravity (flag bit2).
    """

    seq: int
    tick: int
    raw_acc: Int16Array
    raw_gyr: Int16Array | None = None
    tick_hz: int = 32768
    odr_hz: int = 200
    acc_range: AccRange = AccRange.G16
    gyr_range: GyrRange = GyrRange.DPS2000
    restarted: bool = False
    linear: bool = False

    def __post_init__(self) -> None:
        n = self.raw_acc.shape[0]
        if not 1 <= n <= _MAX_SAMPLES or self.raw_acc.shape != (n, 3):
            raise ValueError(f"raw_acc must be (n, 3) with 1 <= n <= 255, got {self.raw_acc.shape}")
        if self.raw_gyr is not None and self.raw_gyr.shape != (n, 3):
            raise ValueError(f"raw_gyr must be {(n, 3)}, got {self.raw_gyr.shape}")
        if not 0 <= self.seq < SEQ_MODULUS or not 0 <= self.tick < TICK_MODULUS:
            raise ValueError("seq must fit u16 and tick u32")
        if not 0 < self.tick_hz < TICK_MODULUS or self.odr_hz not in ODR_HZ:
            raise ValueError(f"tick_hz must fit u32 > 0 and odr_hz be one of {ODR_HZ}")

    def __len__(self) -> int:
        return int(self.raw_acc.shape[0])

    @property
    def acc(self) -> FloatArray:
        """(n, 3) m/s^2."""
        return self.raw_acc.astype(np.float64) * (self.acc_range.full_scale / 32768.0)

    @property
    def gyr(self) -> FloatArray | None:
        """(n, 3) rad/s, or None."""
        if self.raw_gyr is None:
            return None
        return self.raw_gyr.astype(np.float64) * (self.gyr_range.full_scale / 32768.0)


def to_raw(values: FloatArray, full_scale: float) -> Int16Array:
    """Physical values (units of `full_scale`) -> int16 counts, rounded and saturated."""
    counts = np.rint(np.asarray(values, dtype=np.float64) / full_scale * 32768.0)
    return np.clip(counts, -32768, 32767).astype(np.int16)


def packet_size(n: int, gyro: bool) -> int:
    """Bytes of a packet with `n` samples."""
    return HEADER_SIZE + n * (12 if gyro else 6)


def encode_packet(packet: Packet) -> bytes:
    """The packet's bytes, exactly as the firmware sends them."""
    flags = (
        (FLAG_GYRO if packet.raw_gyr is not None else 0)
        | (FLAG_RESTARTED if packet.restarted else 0)
        | (FLAG_LINEAR if packet.linear else 0)
    )
    header = _HEADER.pack(
        VERSION,
        flags,
        packet.seq,
        packet.tick,
        packet.tick_hz,
        packet.odr_hz,
        len(packet),
        int(packet.acc_range) | int(packet.gyr_range) << 4,
    )
    samples = packet.raw_acc
    if packet.raw_gyr is not None:
        samples = np.hstack((packet.raw_acc, packet.raw_gyr))
    return header + samples.astype("<i2").tobytes()


def parse_packet(data: bytes) -> Packet:
    """Bytes of exactly one packet -> Packet; MalformedPacket says why not."""
    flags, seq, tick, tick_hz, odr_hz, n, ranges = _parse_header(data)
    gyro = bool(flags & FLAG_GYRO)
    if len(data) != packet_size(n, gyro):
        raise MalformedPacket(
            Reason.LENGTH, f"{len(data)} bytes, header says {packet_size(n, gyro)}"
        )
    raw = np.frombuffer(data, dtype="<i2", offset=HEADER_SIZE).reshape(n, 6 if gyro else 3)
    return Packet(
        seq=seq,
        tick=tick,
        raw_acc=raw[:, :3].astype(np.int16),
        raw_gyr=raw[:, 3:].astype(np.int16) if gyro else None,
        tick_hz=tick_hz,
        odr_hz=odr_hz,
        acc_range=AccRange(ranges & 0x0F),
        gyr_range=GyrRange(ranges >> 4),
        restarted=bool(flags & FLAG_RESTARTED),
        linear=bool(flags & FLAG_LINEAR),
    )


def _parse_header(data: bytes | bytearray) -> tuple[int, int, int, int, int, int, int]:
    """Checked header fields after the version: flags, seq, tick, tick_hz, odr_hz, n, ranges."""
    if len(data) < HEADER_SIZE:
        raise MalformedPacket(Reason.TRUNCATED, f"{len(data)} bytes < header {HEADER_SIZE}")
    version, flags, seq, tick, tick_hz, odr_hz, n, ranges = _HEADER.unpack_from(data)
    if version != VERSION:
        raise MalformedPacket(Reason.VERSION, f"version {version}")
    if flags & _RESERVED_FLAGS:
        raise MalformedPacket(Reason.RESERVED, f"flags 0x{flags:02x}")
    if n == 0 or tick_hz == 0 or odr_hz not in ODR_HZ or ranges & 0x0F > 3 or ranges >> 4 > 4:
        raise MalformedPacket(
            Reason.FIELD, f"n {n}, tick_hz {tick_hz}, odr_hz {odr_hz}, ranges 0x{ranges:02x}"
        )
    return flags, seq, tick, tick_hz, odr_hz, n, ranges


class MirrorWatchDecoder:
    """One notification = one packet -> one Frame; bad packets counted and skipped."""

    __slots__ = ("_skips",)

    seq_modulus: int | None = SEQ_MODULUS
    tick_modulus: int | None = TICK_MODULUS

    def __init__(self) -> None:
        self._skips = SkipCounter()

    def decode(self, data: bytes) -> list[Frame]:
        try:
            p = parse_packet(data)
        except MalformedPacket as e:
            self._skips.add(e.reason)
            return []
        return [
            Frame(
                tick=p.tick,
                tick_hz=float(p.tick_hz),
                offsets=np.arange(len(p), dtype=np.float64) / p.odr_hz,
                odr_hz=float(p.odr_hz),
                acc=p.acc,
                gyr=p.gyr,
                seq=p.seq,
                restarted=p.restarted,
            )
        ]

    def skipped(self) -> Mapping[Reason, int]:
        return self._skips.snapshot()


class StreamSplitter:
    """Cuts a byte stream of back-to-back packets (a capture file) into packets.

    Packets are self-delimiting, so any split of the stream gives the same packets.
    Bytes that cannot start a packet are skipped one at a time until a plausible
    header appears; `skipped_bytes` counts them.
    """

    __slots__ = ("_buf", "skipped_bytes")

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped_bytes = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Append `data`; return every packet now complete, in order."""
        self._buf += data
        out: list[bytes] = []
        while len(self._buf) >= HEADER_SIZE:
            try:
                flags, *_, n, _ = _parse_header(self._buf)
            except MalformedPacket:
                del self._buf[0]
                self.skipped_bytes += 1
                continue
            size = packet_size(n, bool(flags & FLAG_GYRO))
            if len(self._buf) < size:
                break
            out.append(bytes(self._buf[:size]))
            del self._buf[:size]
        return out

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a packet."""
        return len(self._buf)
