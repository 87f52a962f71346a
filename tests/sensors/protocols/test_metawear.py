"""MetaWear commands and data notifications, against bytes from MbientLab's own SDK tests.

Every vector below is copied from MetaWear-SDK-Cpp's test/ directory (file named at each
one): the commands the SDK writes for a setting, and notifications with the values the
SDK decodes from them (in g and deg/s, rounded by the SDK to 3 decimals).
"""

from __future__ import annotations

import numpy as np
import pytest

from sensors.assembler import BlockAssembler
from sensors.protocols import metawear as mw
from sensors.protocols.base import Reason
from sensors.types import RawPacket, Side

G = 9.80665
DEG = np.pi / 180

# test_accelerometer_bmi160.py TestBmi160AccelerationData, range 4 g:
# 03 04 | x 16c4 = -15338 | y 94a2 = -23916 | z 2ad0 = -12246; / 8192 LSB per g
ACC_ONE = bytes.fromhex("030416c494a22ad0")
ACC_ONE_G = [-1.872, -2.919, -1.495]
# test_accelerometer_bmi160.py TestBmi160HighFreqAccData (03 1c) and test_accelerometer_
# bmi270.py TestBmi270HighFreqAccData (03 05): three samples of x y z int16, range 8 g
PACKED = bytes.fromhex("62b7530de9fd16d04d0e57028affa1050a01")
PACKED_G = [[-4.539, 0.833, -0.131], [-2.995, 0.894, 0.146], [-0.029, 0.352, 0.065]]
# test_gyro_bmi160.py: 13 05 at 500 deg/s (65.6 LSB per deg/s); 13 07 packed at 1000
GYRO_ONE = bytes.fromhex("13053e43ff7f0080")
GYRO_ONE_DPS = [262.409, 499.497, -499.512]
GYRO_PACKED = bytes.fromhex("13070915ad2608de8a1a0d2665e48d20ac2773ec")
GYRO_PACKED_DPS = [[164.177, 301.860, -265.122], [207.134, 296.982, -215.457]]
GYRO_PACKED_DPS += [[254.055, 309.634, -152.591]]


def test_single_and_packed_acceleration() -> None:
    s = mw.parse_data(ACC_ONE, mw.Chip.BMI160)
    np.testing.assert_allclose(s.raw / 8192, [ACC_ONE_G], atol=5e-4)
    for chip, register in ((mw.Chip.BMI160, 0x1C), (mw.Chip.BMI270, 0x05)):
        s = mw.parse_data(bytes([0x03, register]) + PACKED, chip)
        assert s.module == mw.ACC
        np.testing.assert_allclose(s.raw / 4096, PACKED_G, atol=5e-4)


def test_single_and_packed_rotation() -> None:
    s = mw.parse_data(GYRO_ONE, mw.Chip.BMI160)
    np.testing.assert_allclose(s.raw / 65.6, [GYRO_ONE_DPS], atol=5e-4)
    s = mw.parse_data(GYRO_PACKED, mw.Chip.BMI160)
    np.testing.assert_allclose(s.raw / 32.8, GYRO_PACKED_DPS, atol=5e-4)


def test_configuration_commands_match_the_sdk() -> None:
    # test_accelerometer_bmi160.py test_set_odr_and_range: 200 Hz, 8 g -> 03 03 29 08;
    # test_accelerometer_bmi270.py: 200 Hz, 8 g -> 03 03 a9 02; test_gyro_bmi160.py:
    # 200 Hz at 2000 deg/s -> 13 03 29 00; packed subscribe 03 1c 01 / 13 07 01 (BMI160),
    # 03 05 01 (BMI270); enable 03 02 01 00 and 13 02 01 00; test_gyro_active 13 01 01;
    # test_macro.py: accelerometer start 03 01 01
    bmi160 = mw.MetaWearSetup(chip=mw.Chip.BMI160, odr_hz=200, acc_g=8).configure()
    assert [c.hex() for c in bmi160] == [
        "03032908",
        "031c01",
        "13032900",
        "130701",
        "13020100",
        "03020100",
    ]
    bmi270 = mw.MetaWearSetup(chip=mw.Chip.BMI270, odr_hz=200, acc_g=8, gyro=False)
    assert [c.hex() for c in bmi270.configure()] == ["0303a902", "030501", "03020100"]
    assert [c.hex() for c in mw.MetaWearSetup().start()] == ["130101", "030101"]
    # test_accelerometer_bmi160.py test_set_range: 100 Hz, 16 g -> 03 03 28 0c
    assert mw.MetaWearSetup(acc_g=16, gyro=False).configure()[0].hex() == "0303280c"


def test_battery_reply() -> None:
    # test_settings.py test_battery_state_data: 11 8c 63 3410 -> charge 99 %, 4148 mV
    assert mw.battery_charge(bytes.fromhex("118c633410")) == 99
    assert mw.battery_charge(bytes.fromhex("03800101")) is None


def test_decoder_pairs_acc_and_gyro_by_index_in_si_units() -> None:
    setup = mw.MetaWearSetup(chip=mw.Chip.BMI160, odr_hz=100, acc_g=8, gyro_dps=1000)
    dec = mw.MetaWearDecoder(setup)
    assert dec.decode(bytes([0x03, 0x1C]) + PACKED) == []  # waits for the gyroscope
    (frame,) = dec.decode(GYRO_PACKED)
    np.testing.assert_allclose(frame.acc, np.array(PACKED_G) * G, atol=5e-4 * G)
    assert frame.gyr is not None
    np.testing.assert_allclose(frame.gyr, np.array(GYRO_PACKED_DPS) * DEG, atol=5e-4 * DEG)
    assert (frame.tick, frame.tick_hz, frame.restarted) == (0, 100.0, True)
    np.testing.assert_allclose(frame.offsets, [0.0, 0.01, 0.02])
    (frame,) = dec.decode(GYRO_PACKED) or dec.decode(bytes([0x03, 0x1C]) + PACKED)
    assert (frame.tick, frame.restarted) == (3, False)
    assert dec.skipped() == {}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x03", Reason.TRUNCATED),
        (bytes.fromhex("118c633410"), Reason.VERSION),  # a reply is no data
        (bytes([0x03, 0x1C]) + PACKED[:-1], Reason.LENGTH),
        (ACC_ONE + b"\x00", Reason.LENGTH),
    ],
)
def test_bad_notifications_are_counted(data: bytes, reason: Reason) -> None:
    dec = mw.MetaWearDecoder(mw.MetaWearSetup(gyro=False))
    assert dec.decode(data) == []
    assert dec.skipped() == {reason: 1}


def test_a_stream_alone_is_held_one_second_then_counted_unpaired() -> None:
    dec = mw.MetaWearDecoder(mw.MetaWearSetup(odr_hz=50))
    for _ in range(20):  # 60 accelerometer samples, no gyroscope: 50 kept, 10 dropped
        assert dec.decode(bytes([0x03, 0x1C]) + PACKED) == []
    assert dec.skipped() == {Reason.UNPAIRED: 10}


def test_host_timed_stream_through_the_assembler() -> None:
    """Ticks count samples: the clock fits a chip 0.5 % fast, far beyond a crystal's."""
    setup = mw.MetaWearSetup(odr_hz=100, gyro=False)
    asm = BlockAssembler(Side.L, mw.MetaWearDecoder(setup))
    rate = 100 * 1.005
    t = []
    for k in range(2000):  # 60 s of packets of three samples
        arrival = (3 * k + 2) / rate + 0.01
        for block in asm.feed(RawPacket(Side.L, arrival, bytes([0x03, 0x1C]) + PACKED)):
            t.append(block.t)
    times = np.concatenate(t)
    assert asm.stats.resets == 0
    assert asm.stats.lost == 0
    np.testing.assert_allclose(np.diff(times)[-300:], 1 / rate, rtol=1e-3)


# The Android MetaWear SDK's DataProcessorTest, TestAccounter (MbientLab's Java API, same
# protocol): an accounter on the accelerometer, then data `09 03 00, u32 tick, x y z`.
ACCOUNTER_ADD = bytes.fromhex("09020304ffa0113103")  # createTempAccounter
# timeExtraction: ticks 0x0d33a6 + 0, 7, 14, 20, 27, 34; the SDK gets 10 10 9 10 11 ms
TIMED = [
    bytes.fromhex(h)
    for h in (
        "090300a6330d00c100b12419cd",
        "090300ad330d00d4001825c0cc",
        "090300b4330d00c7000925b2cc",
        "090300ba330d00c5001725bccc",
        "090300c1330d00d400e924e4cc",
        "090300c8330d00af00f724e3cc",
    )
]
# handleRollback: the counter wraps from 0xffffffff to 6 (7 ticks later)
ROLLBACK = [
    bytes.fromhex("090300ffffffffc100b12419cd"),
    bytes.fromhex("09030006000000d4001825c0cc"),
]


def test_accounter_commands_and_board_time_match_the_sdk() -> None:
    setup = mw.MetaWearSetup(chip=mw.Chip.BMI160, odr_hz=100, acc_g=2, gyro=False, timed=True)
    assert setup.accounters() == [ACCOUNTER_ADD]
    assert bytes([mw.ACC, 0x1C, 0x01]) not in setup.configure()  # no packed data then
    dec = mw.MetaWearTimedDecoder(setup, {mw.ACC: 0})
    frames = [f for data in TIMED for f in dec.decode(data)]
    assert [f.tick - 0x0D33A6 for f in frames] == [0, 7, 14, 20, 27, 34]
    ms = np.diff([f.tick for f in frames]) / mw.TICK_HZ * 1e3
    np.testing.assert_allclose(ms, [10, 10, 9, 10, 11], atol=1.0)  # the SDK's, in whole ms
    # dataExtraction: x y z as the floats 0x3c410000 0x3f12c400 0xbf4b9c00 (g, 2 g range)
    want = np.array([0x3C410000, 0x3F12C400, 0xBF4B9C00], dtype=np.uint32).view(np.float32)
    np.testing.assert_allclose(frames[0].acc[0] / G, want, rtol=1e-6)
    assert dec.tick_modulus == 1 << 32
    assert not any(f.restarted for f in frames)  # the counter runs on across connections


def test_board_time_across_the_counter_wrap_through_the_assembler() -> None:
    setup = mw.MetaWearSetup(chip=mw.Chip.BMI160, odr_hz=100, acc_g=2, gyro=False, timed=True)
    asm = BlockAssembler(Side.L, mw.MetaWearTimedDecoder(setup, {mw.ACC: 0}))
    # arrivals 10.3 ms apart; the board says 7 ticks, 10.25 ms, across its wrap
    arrivals = (1.0, 1.0103)
    packets = [RawPacket(Side.L, at, data) for at, data in zip(arrivals, ROLLBACK, strict=True)]
    blocks = [b for packet in packets for b in asm.feed(packet)]
    assert len(blocks) == 2
    assert asm.stats.resets == 0
    assert float(blocks[1].t[0] - blocks[0].t[0]) == pytest.approx(7 / mw.TICK_HZ, rel=1e-3)
    assert asm.stats.lost == 0


def test_accounter_pairs_by_tick_and_counts_strays() -> None:
    setup = mw.MetaWearSetup(chip=mw.Chip.BMI160, odr_hz=100, acc_g=2, timed=True)
    dec = mw.MetaWearTimedDecoder(setup, {mw.ACC: 0, mw.GYRO: 1})
    gyro = [b"\x09\x03\x01" + d[3:] for d in TIMED]
    assert dec.decode(TIMED[0]) == []
    assert dec.decode(gyro[1]) == []  # the gyro sample of tick +7: acc 0 lost its partner
    (frame,) = dec.decode(TIMED[1])
    assert frame.tick == 0x0D33AD
    assert frame.gyr is not None
    np.testing.assert_allclose(frame.gyr[0], np.array([212, 9496, -13120]) / 16.4 * DEG)
    assert dec.skipped() == {Reason.UNPAIRED: 1}
    assert dec.decode(b"\x09\x03\x05" + TIMED[2][3:]) == []  # not this connection's
    assert dec.decode(TIMED[2][:-1]) == []
    assert dec.skipped() == {Reason.UNPAIRED: 1, Reason.FIELD: 1, Reason.LENGTH: 1}
