"""An emulated Polar Verity Sense: PMD service, control point and ACC/GYRO frames.

Written from Polar's public material only: the Polar BLE SDK's documentation
(documentation/products/PolarVeritySense.md: rates and ranges, SDK mode;
TimeSystemExplained.md: ns since 2000-01-01) and the byte layouts its unit tests spell
out (PmdSettingTest, BlePmdClientControlPointResponseTest, AccDataTest, GyrDataTest).
See firmware_notes/polar_pmd.md. It sends compressed frames, type 0 (0x80): an int16
reference sample, then one delta block of the narrowest width that holds every delta;
values * FACTOR are g (ACC) and deg/s (GYRO). `gyro_frame` 0x81 sends the gyroscope as
GyrDataTest's compressed type 1 instead (float32 deg/s bit patterns, int32 deltas,
FACTOR 1.0), and 0x00 as uncompressed int16 frames, which the SDK does not decode.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from board import Board, G
from wrist_firmware import BATTERY_LEVEL_UUID, BATTERY_TABLE, DIS_TABLE, GattTable

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
HR_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
HR_MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"
ACC, GYRO, SDK_MODE = 2, 5, 9
SUCCESS, INVALID_PARAMETER, ALREADY_IN_STATE, INVALID_SAMPLE_RATE, INVALID_RANGE = 0, 5, 6, 8, 9
# sensor time at power-on: 2026-01-01T00:00:00Z in ns since 2000-01-01
CLOCK_AT_BOOT_NS = 820_540_800 * 10**9
DEFAULT = {ACC: {"rates": (52,), "ranges": (8,)}, GYRO: {"rates": (52,), "ranges": (2000,)}}
SDK = {
    ACC: {"rates": (26, 52, 104, 208, 416), "ranges": (2, 4, 8, 16)},
    GYRO: {"rates": (26, 52, 104, 208, 416), "ranges": (250, 500, 1000, 2000)},
}


def _settings(rates: Sequence[int], ranges: Sequence[int]) -> bytes:
    out = bytes([0, len(rates)]) + b"".join(struct.pack("<H", r) for r in rates)
    out += bytes([1, 1]) + struct.pack("<H", 16)
    out += bytes([2, len(ranges)]) + b"".join(struct.pack("<H", r) for r in ranges)
    return out + bytes([4, 1, 3])


def _compressed(values: np.ndarray, ref_format: str = "<3h") -> bytes:
    """Reference sample then one delta block, bits LSB first, channels interleaved."""
    ref = values[0]
    deltas = np.diff(values, axis=0).reshape(-1)
    if ref_format == "<3I":  # float32 bit patterns: the deltas wrap as int32
        deltas = (deltas + (1 << 31)) % (1 << 32) - (1 << 31)
    body = struct.pack(ref_format, *(int(v) for v in ref))
    if deltas.size == 0:
        return body
    width = max(int(max(abs(int(d)) for d in deltas)).bit_length() + 1, 1)
    bits = 0
    for i, d in enumerate(deltas):
        bits |= (int(d) & ((1 << width) - 1)) << (i * width)
    nbytes = (width * deltas.size + 7) // 8
    return body + bytes([width, values.shape[0] - 1]) + bits.to_bytes(nbytes, "little")


@dataclass
class PolarVeritySense(Board):
    gatt_table: ClassVar[GattTable] = [
        (HR_SERVICE, 0x000E, [(HR_MEASUREMENT, 0x000F, ["notify"])]),
        BATTERY_TABLE,
        (
            PMD_SERVICE,
            0x0040,
            [(PMD_CP, 0x0041, ["read", "write", "indicate"]), (PMD_DATA, 0x0044, ["notify"])],
        ),
        DIS_TABLE,
    ]
    # Polar sensors advertise Heart Rate and Polar's company id, not PMD
    advertised_uuids: ClassVar[Sequence[str]] = [HR_SERVICE]
    manufacturer_data: ClassVar[dict[int, bytes]] = {0x006B: bytes([0x3F, 0x00, 0x00])}
    encrypted: ClassVar[dict[str, frozenset[str]]] = {}  # works unbonded

    sdk_mode: bool = False
    running: dict[int, tuple[int, int]] = field(default_factory=dict)  # type -> rate, range
    requests: list[bytes] = field(default_factory=list)
    gyro_frame: int = 0x80  # frame type byte of GYRO frames: 0x80, 0x81 or 0x00

    def on_link_down(self) -> None:
        self.running.clear()  # streams end with the link; SDK mode stays until power-off

    def read(self, uuid: str) -> bytes:
        if uuid == BATTERY_LEVEL_UUID:
            return bytes([self.battery])
        if uuid == PMD_CP:
            # feature read: 0x0F, then a bit per measurement type: PPG 1, ACC 2, PPI 3,
            # GYRO 5, MAG 6 in the first byte; SDK mode (9) in the second
            return bytes([0x0F, 0b0110_1110, 0b0000_0010])
        return b"Polar Electro Oy" if uuid.startswith("00002a29") else b""

    def write(self, uuid: str, value: bytes) -> None:
        if uuid != PMD_CP or len(value) < 2:
            return
        self.requests.append(value)
        op, kind = value[0], value[1]
        status, params = SUCCESS, b""
        table = SDK if self.sdk_mode else DEFAULT
        if op == 0x01 and kind in table:
            params = _settings(table[kind]["rates"], table[kind]["ranges"])
        elif op == 0x02 and kind == SDK_MODE:
            status = ALREADY_IN_STATE if self.sdk_mode else SUCCESS
            self.sdk_mode = True
        elif op == 0x02 and kind in table:
            status, params = self._start(kind, value[2:], table[kind])
        elif op == 0x03:
            self.running.pop(kind, None)
        else:
            status = INVALID_PARAMETER
        self.notify(PMD_CP, bytes([0xF0, op, kind, status, 0]) + params)

    def _start(
        self, kind: int, settings: bytes, table: dict[str, tuple[int, ...]]
    ) -> tuple[int, bytes]:
        if kind in self.running:
            return ALREADY_IN_STATE, b""
        chosen: dict[int, int] = {}
        off = 0
        while off + 2 <= len(settings):
            key, size = settings[off], {0: 2, 1: 2, 2: 2, 4: 1}.get(settings[off], 0)
            chosen[key] = int.from_bytes(settings[off + 2 : off + 2 + size], "little")
            off += 2 + size
        rate, full_scale = chosen.get(0), chosen.get(2)
        if rate not in table["rates"]:
            return INVALID_SAMPLE_RATE, b""
        if full_scale not in table["ranges"]:
            return INVALID_RANGE, b""
        others = {r for r, _ in self.running.values()}
        if others and rate not in others:
            return INVALID_SAMPLE_RATE, b""  # one sensor clock: one rate for both
        self.running[kind] = (rate, full_scale)
        factor = 1.0 if kind == GYRO and self.gyro_frame == 0x81 else full_scale / 32768.0
        return SUCCESS, bytes([5, 1]) + struct.pack("<f", factor)

    def rate(self) -> float | None:
        acc = self.running.get(ACC)
        return None if acc is None else float(acc[0])

    def per_packet(self) -> int:
        return 10

    def sensor_ns(self, host_t: float) -> int:
        return CLOCK_AT_BOOT_NS + round((host_t - self._boot) * (1 + self.drift_ppm * 1e-6) * 1e9)

    def emit(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> bool:
        stamp = struct.pack("<Q", self.sensor_ns(float(t[-1])))
        sent = False
        if ACC in self.running:
            counts = np.rint(acc / G / (self.running[ACC][1] / 32768.0))
            sent = self.notify(PMD_DATA, bytes([ACC]) + stamp + b"\x80" + _compressed(counts))
        if GYRO in self.running:
            head = bytes([GYRO]) + stamp + bytes([self.gyro_frame])
            if self.gyro_frame == 0x81:
                bits = np.degrees(gyr).astype("<f4").view("<u4").astype(np.int64)
                self.notify(PMD_DATA, head + _compressed(bits, "<3I"))
                return sent
            dps = np.rint(np.degrees(gyr) / (self.running[GYRO][1] / 32768.0))
            if self.gyro_frame == 0x00:
                self.notify(PMD_DATA, head + dps.astype("<i2").tobytes())
            else:
                self.notify(PMD_DATA, head + _compressed(dps))
        return sent
