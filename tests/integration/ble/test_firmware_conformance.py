"""The emulated board and the codec against the byte examples in firmware_notes/gatt.md.

The board writes its answers with code of its own (wrist_firmware.py does not import
sensors/protocols, so a codec bug cannot hide behind a shared encoder); the golden
vectors are read from the notes themselves, so notes, codec and board pass together or
not at all. No D-Bus here: the board's GATT callbacks are called directly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from wrist_firmware import CONFIG_UUID, CONTROL_UUID, FirmwareConfig, WristFirmware

from sensors.protocols.base import MalformedPacket
from sensors.protocols.mirrorwatch import AccRange, GyrRange
from sensors.protocols.mirrorwatch_control import (
    Command,
    CommandError,
    DeviceConfig,
    Opcode,
    Response,
    Status,
    check_config,
    encode_command,
    encode_config,
    encode_response,
    parse_command,
    parse_config,
    parse_response,
)

NOTES = Path(__file__).resolve().parents[3] / "firmware_notes" / "gatt.md"
SYNC_TICK = 0x12345678  # the tick the notes' sync example answers with
_CONTROL_ROW = re.compile(r"^\| (`[0-9a-f ]+`|empty) \| `([0-9a-f ]+)` \| [^|]+ \|$")
_CONFIG_ROW = re.compile(
    r"^\| `((?:[0-9a-f]{2} ){9}[0-9a-f]{2})` \| (\d+) \| (\d+) \| ±(\d+) g(?:, ±(\d+) °/s)?[^|]*"
    r"\| (yes|no) \| (yes|no) \| (\d+) \|$"
)
_ACC = {2 << code: code for code in AccRange}
_GYR = {125 << code: code for code in GyrRange}


def _examples() -> list[str]:
    text = NOTES.read_text(encoding="utf-8")
    section = text.split("\n## Byte examples\n", 1)[1].split("\n## ", 1)[0]
    return section.splitlines()


def _control_rows() -> list[tuple[bytes, bytes]]:
    rows = []
    for line in _examples():
        if m := _CONTROL_ROW.match(line):
            request = b"" if m[1] == "empty" else bytes.fromhex(m[1].strip("`"))
            rows.append((request, bytes.fromhex(m[2])))
    return rows


def _config_rows() -> list[tuple[bytes, DeviceConfig]]:
    rows = []
    for line in _examples():
        if m := _CONFIG_ROW.match(line):
            config = DeviceConfig(
                odr_hz=int(m[2]),
                tick_hz=int(m[3]),
                acc=_ACC[int(m[4])],
                gyr=_GYR[int(m[5])] if m[5] else GyrRange.DPS125,
                gyro=m[6] == "yes",
                linear=m[7] == "yes",
                samples_per_packet=int(m[8]),
            )
            rows.append((bytes.fromhex(m[1]), config))
    return rows


CONTROL = _control_rows()
CONFIGS = _config_rows()
# the emulated board always samples the gyroscope with gravity included
BOARD_CONFIGS = [(data, c) for data, c in CONFIGS if c.gyro and not c.linear]


def test_the_notes_hold_the_examples() -> None:
    """A table the patterns stop matching must fail here, not shrink the tests below."""
    assert len(CONTROL) == 14
    assert len(CONFIGS) == 4
    assert len(BOARD_CONFIGS) == 3
    assert CONFIGS[0] == (bytes.fromhex("0101c80000800000430a"), DeviceConfig())


def _board(config: FirmwareConfig | None = None) -> tuple[WristFirmware, list[bytes]]:
    """A board whose tick reads SYNC_TICK now (booted at host time 0), and its indications."""
    board = WristFirmware(config or FirmwareConfig(), clock=lambda: SYNC_TICK / 32768)
    indications: list[bytes] = []
    board.link_up(lambda uuid, value: indications.append(value) if uuid == CONTROL_UUID else None)
    return board, indications


@pytest.mark.parametrize(("request_", "indication"), CONTROL, ids=lambda v: v.hex() or "empty")
def test_board_answers_as_the_notes_say(request_: bytes, indication: bytes) -> None:
    board, indications = _board()
    board.write(CONTROL_UUID, request_)
    assert indications == [indication]


@pytest.mark.parametrize(("request_", "indication"), CONTROL, ids=lambda v: v.hex() or "empty")
def test_codec_answers_as_the_notes_say(request_: bytes, indication: bytes) -> None:
    """The sensor side of the codec gives the notes' answer; the gateway side reads it."""
    try:
        command = parse_command(request_)
    except CommandError as e:
        answer = Response(e.opcode, e.status)
    else:
        assert encode_command(command) == request_  # what the gateway writes for it
        tick = SYNC_TICK if command.opcode is Opcode.SYNC else None
        answer = Response(command.opcode, Status.OK, tick)
    assert encode_response(answer) == indication
    assert parse_response(indication) == answer


@pytest.mark.parametrize(("data", "config"), CONFIGS, ids=lambda v: getattr(v, "hex", str)())
def test_codec_reads_and_writes_the_config_examples(data: bytes, config: DeviceConfig) -> None:
    assert parse_config(data) == config
    assert encode_config(config) == data


@pytest.mark.parametrize(("data", "config"), BOARD_CONFIGS, ids=lambda v: getattr(v, "hex", str)())
def test_board_config_bytes_are_the_examples(data: bytes, config: DeviceConfig) -> None:
    board, _ = _board(
        FirmwareConfig(
            odr_hz=config.odr_hz,
            tick_hz=config.tick_hz,
            acc_range=int(config.acc),
            gyro_range=int(config.gyr),
            samples_per_packet=config.samples_per_packet,
        )
    )
    assert board.read(CONFIG_UUID) == data


def test_board_config_shows_a_new_odr_at_once_and_the_gateway_accepts_it() -> None:
    board, indications = _board()
    board.write(CONTROL_UUID, encode_command(Command(Opcode.SET_ODR, odr_hz=100)))
    board.write(CONTROL_UUID, bytes.fromhex("0455"))  # acc code 5: refused, nothing changes
    assert [parse_response(i).status for i in indications] == [Status.OK, Status.INVALID_ARGUMENT]
    config = parse_config(board.read(CONFIG_UUID))
    assert config.odr_hz == 100  # before the next packet carries it
    assert check_config(config, 100, 244) is None
    assert check_config(config, 200, 244) == "device config says 100 Hz after set odr 200 Hz"


def test_the_codec_refuses_what_the_board_never_sends() -> None:
    """The old 9-byte layout (version, odr, ranges, n, tick) is rejected by length."""
    with pytest.raises(MalformedPacket):
        parse_config(bytes.fromhex("01c800420a00800000"))
