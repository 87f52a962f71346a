"""Polar PMD control point: requests, responses and measurement settings.

Sources (firmware_notes/polar_pmd.md): the Polar BLE SDK's PmdControlPointCommand.kt,
PmdControlPointResponse.kt, PmdSetting.kt and PmdMeasurementType.kt, and their unit tests
(BlePmdClientControlPointResponseTest.kt, PmdSettingTest.kt).

Request (write to FB005C81):  u8 opcode, u8 measurement type, [settings]
    opcodes: 0x01 get settings, 0x02 start, 0x03 stop; type 2 ACC, 5 GYRO, 9 SDK mode
Response (indication):        0xF0, u8 opcode, u8 type, u8 status (0 ok), u8 more, [params]
Settings:                     repeated (u8 setting type, u8 count, count x value LE)
    type -> value size: 0 sample rate u16, 1 resolution u16, 2 range u16,
    3 range in milliunits i32, 4 channels u8, 5 FACTOR float32, 6 security 16 bytes
Feature read of FB005C81:     0x0F, then bit set per measurement (byte 1 bit 2 ACC, bit 5 GYRO)
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from sensors.protocols.base import MalformedPacket, Reason

__all__ = [
    "RESPONSE_CODE",
    "Opcode",
    "PmdResponse",
    "PmdStatus",
    "SettingType",
    "encode_request",
    "encode_settings",
    "factor",
    "parse_features",
    "parse_response",
    "parse_settings",
]

RESPONSE_CODE = 0xF0
FEATURE_CODE = 0x0F
MEASUREMENT_MASK = 0x3F


class Opcode(IntEnum):
    GET_SETTINGS = 0x01
    START = 0x02
    STOP = 0x03


class SettingType(IntEnum):
    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5
    SECURITY = 6


class PmdStatus(IntEnum):
    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


# value bytes, and whether the value is signed, per setting type
_SIZES: dict[SettingType, tuple[int, bool]] = {
    SettingType.SAMPLE_RATE: (2, False),
    SettingType.RESOLUTION: (2, False),
    SettingType.RANGE: (2, False),
    SettingType.RANGE_MILLIUNIT: (4, True),
    SettingType.CHANNELS: (1, False),
    SettingType.FACTOR: (4, False),  # float32 bits; `factor()` reads them as a float
    SettingType.SECURITY: (16, False),
}


@dataclass(frozen=True, slots=True)
class PmdResponse:
    """A control point indication: `params` is empty unless the status is SUCCESS."""

    opcode: int
    measurement: int
    status: int
    more: bool
    params: bytes

    @property
    def ok(self) -> bool:
        return self.status == PmdStatus.SUCCESS


def encode_request(opcode: Opcode, measurement: int, settings: bytes = b"") -> bytes:
    """Bytes to write to the control point."""
    return bytes([opcode, measurement]) + settings


def encode_settings(selected: Mapping[SettingType, int | float]) -> bytes:
    """Chosen settings, one value each, in the order given; FACTOR as float32."""
    out = bytearray()
    for kind, value in selected.items():
        size, signed = _SIZES[kind]
        out += bytes([kind, 1])
        if kind is SettingType.FACTOR:
            out += struct.pack("<f", value)
        else:
            out += int(value).to_bytes(size, "little", signed=signed)
    return bytes(out)


def parse_settings(data: bytes) -> dict[SettingType, tuple[int, ...]]:
    """Settings as the sensor lists them: type -> its values (FACTOR as float32 bits)."""
    out: dict[SettingType, tuple[int, ...]] = {}
    off = 0
    while off < len(data):
        if off + 2 > len(data):
            raise MalformedPacket(Reason.TRUNCATED, f"setting header cut short at {off}")
        try:
            kind = SettingType(data[off])
        except ValueError:
            raise MalformedPacket(Reason.FIELD, f"setting type {data[off]}") from None
        count = data[off + 1]
        size, signed = _SIZES[kind]
        off += 2
        if off + count * size > len(data):
            raise MalformedPacket(Reason.LENGTH, f"{count} values of {kind.name} cut short")
        values = tuple(
            int.from_bytes(data[off + i * size : off + (i + 1) * size], "little", signed=signed)
            for i in range(count)
        )
        out[kind] = values
        off += count * size
    return out


def factor(settings: Mapping[SettingType, tuple[int, ...]]) -> float:
    """The FACTOR setting as a float (1.0 when the sensor sent none)."""
    bits = settings.get(SettingType.FACTOR)
    if not bits:
        return 1.0
    value: float = struct.unpack("<f", struct.pack("<I", bits[0]))[0]
    return value


def parse_response(data: bytes) -> PmdResponse:
    """An indication of the control point -> PmdResponse; MalformedPacket if it is none."""
    if len(data) < 4:
        raise MalformedPacket(Reason.TRUNCATED, f"{len(data)} bytes < 4")
    if data[0] != RESPONSE_CODE:
        raise MalformedPacket(Reason.FIELD, f"0x{data[0]:02x} is no response code")
    ok = data[3] == PmdStatus.SUCCESS
    more = ok and len(data) > 4 and data[4] != 0
    params = bytes(data[5:]) if ok else b""
    return PmdResponse(data[1], data[2], data[3], more, params)


def parse_features(data: bytes) -> set[int]:
    """Measurement types the sensor offers, from a read of the control point."""
    if len(data) < 3 or data[0] != FEATURE_CODE:
        raise MalformedPacket(Reason.FIELD, f"feature read {data.hex()}")
    bits = data[1] | data[2] << 8
    return {i for i in range(16) if bits >> i & 1}
