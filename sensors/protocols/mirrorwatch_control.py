"""MirrorWatch IMU profile v1: UUIDs, control point and device config (firmware_notes/gatt.md).

Control point (write with response + indicate), little-endian:

    request   u8 opcode [args]      0x01 start, 0x02 stop, 0x03 set odr (u16 Hz),
                                    0x04 set ranges (u8, as in the packet), 0x05 sync
    response  u8 0x80|opcode, u8 status (0 ok, 1 unsupported, 2 invalid argument)
              [u32 current tick: sync request answered ok only]

Device config (read), 10 bytes: u8 version = 1, u8 flags (bit0 gyro present, bit2 acc
excludes gravity), u16 odr_hz, u32 tick_hz, u8 ranges, u8 samples per notification.
`check_config` and `check_firmware_revision` are what the gateway demands of them on
connecting (gatt.md, "Device config").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from sensors.protocols.base import MalformedPacket, Reason
from sensors.protocols.mirrorwatch import (
    FLAG_GYRO,
    FLAG_LINEAR,
    HEADER_SIZE,
    ODR_HZ,
    VERSION,
    AccRange,
    GyrRange,
)

__all__ = [
    "CONFIG_UUID",
    "CONTROL_UUID",
    "DATA_UUID",
    "SERVICE_UUID",
    "Command",
    "CommandError",
    "DeviceConfig",
    "Opcode",
    "Response",
    "Status",
    "check_config",
    "check_firmware_revision",
    "decode_ranges",
    "encode_command",
    "encode_config",
    "encode_ranges",
    "encode_response",
    "parse_command",
    "parse_config",
    "parse_response",
    "uuid",
]

_BASE = "4d57{:04x}-2f1c-4b8e-9a6d-6d6972726f72"  # "MW" ... "mirror" in ASCII


def uuid(short: int) -> str:
    """The profile's 128-bit UUID for a 16-bit short id."""
    return _BASE.format(short)


SERVICE_UUID = uuid(0x0001)
DATA_UUID = uuid(0x0002)  # notify: packets (sensors/protocols/mirrorwatch.py)
CONTROL_UUID = uuid(0x0003)  # write + indicate
CONFIG_UUID = uuid(0x0004)  # read

RESPONSE_BIT = 0x80
_CONFIG = struct.Struct("<BBHIBB")
_CONFIG_RESERVED_FLAGS = 0xFF & ~(FLAG_GYRO | FLAG_LINEAR)


class Opcode(IntEnum):
    START = 0x01
    STOP = 0x02
    SET_ODR = 0x03
    SET_RANGES = 0x04
    SYNC = 0x05


class Status(IntEnum):
    OK = 0
    UNSUPPORTED = 1
    INVALID_ARGUMENT = 2


def encode_ranges(acc: AccRange, gyr: GyrRange) -> int:
    """The `ranges` byte: acc code in the low nibble, gyro code in the high one."""
    return int(acc) | int(gyr) << 4


def decode_ranges(value: int) -> tuple[AccRange, GyrRange]:
    """Inverse of encode_ranges; ValueError for codes outside the tables."""
    return AccRange(value & 0x0F), GyrRange(value >> 4 & 0x0F)


@dataclass(frozen=True, slots=True)
class Command:
    """A control point request; `odr_hz` for SET_ODR, `acc`/`gyr` for SET_RANGES."""

    opcode: Opcode
    odr_hz: int | None = None
    acc: AccRange | None = None
    gyr: GyrRange | None = None

    def __post_init__(self) -> None:
        if (self.opcode is Opcode.SET_ODR) != (self.odr_hz is not None):
            raise ValueError("odr_hz goes with SET_ODR and only there")
        if (self.opcode is Opcode.SET_RANGES) != (self.acc is not None and self.gyr is not None):
            raise ValueError("acc and gyr go with SET_RANGES and only there")


class CommandError(ValueError):
    """A request the sensor cannot execute; answer it with `opcode` | 0x80 and `status`."""

    def __init__(self, opcode: int, status: Status, detail: str) -> None:
        super().__init__(f"opcode 0x{opcode:02x}: {status.name}: {detail}")
        self.opcode = opcode
        self.status = status


def encode_command(command: Command) -> bytes:
    """Bytes to write to the control point."""
    if command.odr_hz is not None:
        return struct.pack("<BH", command.opcode, command.odr_hz)
    if command.acc is not None and command.gyr is not None:
        return struct.pack("<BB", command.opcode, encode_ranges(command.acc, command.gyr))
    return bytes([command.opcode])


def parse_command(data: bytes) -> Command:
    """What the firmware does with a write; CommandError carries the status to answer."""
    if not data:
        raise CommandError(0, Status.INVALID_ARGUMENT, "empty write")
    try:
        op = Opcode(data[0])
    except ValueError:
        raise CommandError(data[0], Status.UNSUPPORTED, "unknown opcode") from None
    args = data[1:]
    want = {Opcode.SET_ODR: 2, Opcode.SET_RANGES: 1}.get(op, 0)
    if len(args) != want:
        raise CommandError(op, Status.INVALID_ARGUMENT, f"{len(args)} argument bytes, want {want}")
    if op is Opcode.SET_ODR:
        (odr,) = struct.unpack("<H", args)
        if odr not in ODR_HZ:
            raise CommandError(op, Status.INVALID_ARGUMENT, f"odr {odr} Hz not in {ODR_HZ}")
        return Command(op, odr_hz=odr)
    if op is Opcode.SET_RANGES:
        try:
            acc, gyr = decode_ranges(args[0])
        except ValueError:
            raise CommandError(op, Status.INVALID_ARGUMENT, f"ranges 0x{args[0]:02x}") from None
        return Command(op, acc=acc, gyr=gyr)
    return Command(op)


@dataclass(frozen=True, slots=True)
class Response:
    """An indication: `opcode` of the request (raw byte), `status`, and for an answered
    SYNC the sensor's `tick` when it handled the request."""

    opcode: int
    status: Status
    tick: int | None = None


def encode_response(response: Response) -> bytes:
    """Bytes the firmware indicates."""
    head = bytes([RESPONSE_BIT | response.opcode, response.status])
    return head if response.tick is None else head + struct.pack("<I", response.tick)


def parse_response(data: bytes) -> Response:
    """An indication -> Response; MalformedPacket when it is not one."""
    if len(data) < 2:
        raise MalformedPacket(Reason.TRUNCATED, f"{len(data)} bytes < 2")
    if not data[0] & RESPONSE_BIT:
        raise MalformedPacket(Reason.FIELD, f"0x{data[0]:02x} lacks the response bit")
    try:
        status = Status(data[1])
    except ValueError:
        raise MalformedPacket(Reason.FIELD, f"status {data[1]}") from None
    opcode = data[0] & ~RESPONSE_BIT
    has_tick = opcode == Opcode.SYNC and status is Status.OK
    if len(data) != (6 if has_tick else 2):
        raise MalformedPacket(Reason.LENGTH, f"{len(data)} bytes for opcode 0x{opcode:02x}")
    tick = struct.unpack_from("<I", data, 2)[0] if has_tick else None
    return Response(opcode, status, tick)


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """The device config characteristic: what the sensor streams now."""

    odr_hz: int = 200
    tick_hz: int = 32768
    acc: AccRange = AccRange.G16
    gyr: GyrRange = GyrRange.DPS2000
    gyro: bool = True
    linear: bool = False
    samples_per_packet: int = 10


def encode_config(config: DeviceConfig) -> bytes:
    """The 10 bytes the firmware returns on a read."""
    flags = (FLAG_GYRO if config.gyro else 0) | (FLAG_LINEAR if config.linear else 0)
    return _CONFIG.pack(
        VERSION,
        flags,
        config.odr_hz,
        config.tick_hz,
        encode_ranges(config.acc, config.gyr),
        config.samples_per_packet,
    )


def parse_config(data: bytes) -> DeviceConfig:
    """A config read -> DeviceConfig; MalformedPacket says why not."""
    if len(data) != _CONFIG.size:
        raise MalformedPacket(Reason.LENGTH, f"{len(data)} bytes, want {_CONFIG.size}")
    version, flags, odr, tick_hz, ranges, per_packet = _CONFIG.unpack(data)
    if version != VERSION:
        raise MalformedPacket(Reason.VERSION, f"version {version}")
    if flags & _CONFIG_RESERVED_FLAGS:
        raise MalformedPacket(Reason.RESERVED, f"flags 0x{flags:02x}")
    try:
        acc, gyr = decode_ranges(ranges)
    except ValueError:
        raise MalformedPacket(Reason.FIELD, f"ranges 0x{ranges:02x}") from None
    if odr not in ODR_HZ or tick_hz == 0 or per_packet == 0:
        raise MalformedPacket(Reason.FIELD, f"odr {odr}, tick_hz {tick_hz}, n {per_packet}")
    return DeviceConfig(
        odr_hz=odr,
        tick_hz=tick_hz,
        acc=acc,
        gyr=gyr,
        gyro=bool(flags & FLAG_GYRO),
        linear=bool(flags & FLAG_LINEAR),
        samples_per_packet=per_packet,
    )


PROFILE_TAG = "mw1"  # the Firmware Revision String's last word for profile v1
_ATT_DEFAULT_PAYLOAD = 20  # ATT_MTU 23 - 3: what bleak reports when BlueZ does not say


def check_firmware_revision(text: str) -> str | None:
    """None when the Firmware Revision String (`<semver> mw1`) says profile v1, else why not."""
    words = text.split()
    if words and words[-1] == PROFILE_TAG:
        return None
    return f"firmware revision {text.strip()!r} is not MirrorWatch profile v1 ('<version> mw1')"


def check_config(config: DeviceConfig, odr_hz: int, att_payload: int) -> str | None:
    """None when the device config is what the gateway asked for and the link can carry,
    else one line saying what is wrong.

    `odr_hz` is the rate just set; `att_payload` the bytes one notification may carry
    (ATT_MTU - 3). A payload of 20 is the default bleak reports when BlueZ does not say
    (BlueZ < 5.62): the sensor itself refuses to start on a link that small (link.md).
    """
    if config.odr_hz != odr_hz:
        return f"device config says {config.odr_hz} Hz after set odr {odr_hz} Hz"
    per_sample = 12 if config.gyro else 6
    fits = (att_payload - HEADER_SIZE) // per_sample
    if att_payload > _ATT_DEFAULT_PAYLOAD and config.samples_per_packet > fits:
        return (
            f"device config: {config.samples_per_packet} samples per notification do not fit "
            f"the link's ATT MTU of {att_payload + 3} bytes (at most {fits})"
        )
    return None
