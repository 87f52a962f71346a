"""MirrorWatch control point and device config from literal bytes (firmware_notes/gatt.md)."""

from __future__ import annotations

import pytest

from sensors.protocols.base import MalformedPacket, Reason
from sensors.protocols.mirrorwatch import AccRange, GyrRange
from sensors.protocols.mirrorwatch_control import (
    CONFIG_UUID,
    CONTROL_UUID,
    DATA_UUID,
    SERVICE_UUID,
    Command,
    CommandError,
    DeviceConfig,
    Opcode,
    Response,
    Status,
    check_config,
    check_firmware_revision,
    encode_command,
    encode_config,
    encode_response,
    parse_command,
    parse_config,
    parse_response,
)


def test_uuids() -> None:
    assert SERVICE_UUID == "4d570001-2f1c-4b8e-9a6d-6d6972726f72"
    assert DATA_UUID == "4d570002-2f1c-4b8e-9a6d-6d6972726f72"
    assert CONTROL_UUID == "4d570003-2f1c-4b8e-9a6d-6d6972726f72"
    assert CONFIG_UUID == "4d570004-2f1c-4b8e-9a6d-6d6972726f72"
    assert bytes.fromhex(SERVICE_UUID[-12:]) == b"mirror"


@pytest.mark.parametrize(
    ("data", "command"),
    [
        (bytes.fromhex("01"), Command(Opcode.START)),  # start
        (bytes.fromhex("02"), Command(Opcode.STOP)),  # stop
        (bytes.fromhex("03c800"), Command(Opcode.SET_ODR, odr_hz=200)),  # odr u16 0x00c8
        (bytes.fromhex("039001"), Command(Opcode.SET_ODR, odr_hz=400)),  # odr u16 0x0190
        # ranges 0x32: acc code 2 (±8 g) low nibble, gyro code 3 (±1000 dps) high nibble
        (bytes.fromhex("0432"), Command(Opcode.SET_RANGES, acc=AccRange.G8, gyr=GyrRange.DPS1000)),
        (bytes.fromhex("05"), Command(Opcode.SYNC)),  # sync request
    ],
)
def test_commands_both_ways(data: bytes, command: Command) -> None:
    assert encode_command(command) == data
    assert parse_command(data) == command


@pytest.mark.parametrize(
    ("data", "opcode", "status"),
    [
        (b"", 0x00, Status.INVALID_ARGUMENT),
        (bytes.fromhex("09"), 0x09, Status.UNSUPPORTED),  # no opcode 9
        (bytes.fromhex("037b00"), 0x03, Status.INVALID_ARGUMENT),  # 123 Hz
        (bytes.fromhex("03c8"), 0x03, Status.INVALID_ARGUMENT),  # u16 cut short
        (bytes.fromhex("0454"), 0x04, Status.INVALID_ARGUMENT),  # acc code 4, gyro code 5
        (bytes.fromhex("0100"), 0x01, Status.INVALID_ARGUMENT),  # start takes no argument
    ],
)
def test_rejected_commands_say_what_to_answer(data: bytes, opcode: int, status: Status) -> None:
    with pytest.raises(CommandError) as err:
        parse_command(data)
    assert (err.value.opcode, err.value.status) == (opcode, status)


@pytest.mark.parametrize(
    ("data", "response"),
    [
        (bytes.fromhex("8100"), Response(0x01, Status.OK)),  # start ok
        (bytes.fromhex("8302"), Response(0x03, Status.INVALID_ARGUMENT)),  # bad odr
        (bytes.fromhex("8901"), Response(0x09, Status.UNSUPPORTED)),  # unknown opcode
        # sync ok, tick u32 0x12345678
        (bytes.fromhex("850078563412"), Response(0x05, Status.OK, tick=0x12345678)),
        (bytes.fromhex("8501"), Response(0x05, Status.UNSUPPORTED)),  # no tick unless ok
    ],
)
def test_responses_both_ways(data: bytes, response: Response) -> None:
    assert encode_response(response) == data
    assert parse_response(data) == response


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes.fromhex("81"), Reason.TRUNCATED),
        (bytes.fromhex("0100"), Reason.FIELD),  # response bit missing
        (bytes.fromhex("8107"), Reason.FIELD),  # status 7
        (bytes.fromhex("8500"), Reason.LENGTH),  # sync ok without its tick
        (bytes.fromhex("810000"), Reason.LENGTH),
    ],
)
def test_bad_responses(data: bytes, reason: Reason) -> None:
    with pytest.raises(MalformedPacket) as err:
        parse_response(data)
    assert err.value.reason is reason


CONFIG = bytes.fromhex(
    "01"  # version 1
    "01"  # flags: gyro present, gravity included
    "c800"  # odr 200 Hz
    "00800000"  # tick_hz 32768
    "43"  # ranges: ±16 g, ±2000 dps
    "0a"  # 10 samples per notification
)


def test_device_config_both_ways() -> None:
    config = parse_config(CONFIG)
    assert config == DeviceConfig()  # the defaults are the recommended settings
    assert encode_config(config) == CONFIG
    other = DeviceConfig(odr_hz=50, tick_hz=1000, acc=AccRange.G2, gyr=GyrRange.DPS125, gyro=False)
    assert parse_config(encode_config(other)) == other


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (CONFIG[:-1], Reason.LENGTH),
        (b"\x02" + CONFIG[1:], Reason.VERSION),
        (CONFIG[:1] + b"\x03" + CONFIG[2:], Reason.RESERVED),  # bit1 is packet-only
        (CONFIG[:8] + b"\x45" + CONFIG[9:], Reason.FIELD),  # acc code 5
        (CONFIG[:2] + b"\x10\x00" + CONFIG[4:], Reason.FIELD),  # 16 Hz
        (CONFIG[:9] + b"\x00", Reason.FIELD),  # 0 samples per notification
    ],
)
def test_bad_config(data: bytes, reason: Reason) -> None:
    with pytest.raises(MalformedPacket) as err:
        parse_config(data)
    assert err.value.reason is reason


def test_command_arguments_match_opcode() -> None:
    with pytest.raises(ValueError, match="odr_hz"):
        Command(Opcode.START, odr_hz=200)
    with pytest.raises(ValueError, match="SET_RANGES"):
        Command(Opcode.SET_RANGES, acc=AccRange.G2)


def test_what_the_gateway_demands_of_the_config_and_firmware() -> None:
    assert check_config(DeviceConfig(), 200, 244) is None  # ATT MTU 247
    assert (
        check_config(DeviceConfig(), 100, 244) == "device config says 200 Hz after set odr 100 Hz"
    )
    big = DeviceConfig(samples_per_packet=20)  # 16 + 20 * 12 = 256 bytes
    assert check_config(big, 200, 244) == (
        "device config: 20 samples per notification do not fit the link's ATT MTU of 247 bytes "
        "(at most 19)"
    )
    assert check_config(DeviceConfig(samples_per_packet=38, gyro=False), 200, 244) is None
    assert check_config(big, 200, 20) is None  # BlueZ < 5.62 does not say: the sensor decides
    assert check_firmware_revision("1.4.2 mw1") is None
    assert check_firmware_revision("1.4.2 mw2") == (
        "firmware revision '1.4.2 mw2' is not MirrorWatch profile v1 ('<version> mw1')"
    )
    assert check_firmware_revision("") is not None
