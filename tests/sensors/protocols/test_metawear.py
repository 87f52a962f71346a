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
