"""Our PMD decoder against the Polar BLE SDK's own unit-test vectors.

Bytes copied from polarofficial/polar-ble-sdk, sources/Android/android-communications/
library/src/test/.../pmd/: model/AccDataTest.kt, model/GyrDataTest.kt,
BlePmdClientControlPointResponseTest.kt and PmdSettingTest.kt (the test each vector comes
from is named beside it). The SDK reports ACC in mG (ints) and GYRO in deg/s; we report
m/s^2 and rad/s, so raw counts are compared where the SDK compares counts.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sensors.protocols import polar_pmd_control as pmdc
from sensors.protocols.base import MalformedPacket, Reason
from sensors.protocols.polar_pmd import PolarPmdDecoder, parse_frame

MG = 9.80665e-3
TS = 2_000_000_000  # "00 94 35 77 00 00 00 00" in the SDK tests

# AccDataTest "process acc raw data frame type 1": 02 | ts | 01 | int16 x y z in mG
ACC_RAW_BODY = bytes.fromhex(
    "f7ffffffe703f8fffeffe503f9ffffffe503faffffffe603fafffeffe603f9ffffffe503f8ffffffe603"
    "f8fffeffe603faffffffe503faffffffe703faffffffe503f8ffffffe603f7ffffffe603f8fffeffe603"
    "f9fffeffe703f9ff0000e603f9ffffffe603f7fffeffe503f9ffffffe503f9ffffffe503faff0000e603"
    "f9fffeffe603f8ffffffe603f8ffffffe503f9ffffffe603f9ffffffe503faffffffe603f9ffffffe503"
    "f9ffffffe503f8fffeffe603f9ffffffe603f9ffffffe603f9ff0000e503f9fffeffe603f8fffeffe603"
    "f7fffeffe603"
)
ACC_RAW = bytes.fromhex("02009435770000000001") + ACC_RAW_BODY
# AccDataTest "process acc compressed data type 0": 02 | ts | 80 | ref 0771 6af0 8d9e,
# delta block width 0x0a, 0x38 = 56 samples; factor 2.44e-4 (values * factor = g)
ACC_C0_BODY = bytes.fromhex(
    "7107f06a9e8d0a38be5cbeba2f96b3ee4be5adfb42b9ebbe4cfeba2f92bfee4be4b1fb12b9ecbd3c3ebb"
    "2f8fd3de4be3b5f7d2b8edbd307e7b2f8be3ce8be2baf7a2b8eebc20be7b2f88f3cecbe1bdef52f8efbc"
    "18fe3b2f8403bfcbe0c2ef32b8f0bb044ebc2e8113af0be0c6eff2f7f1b9fc7dbc2e7d279f4bdfcaebc2"
    "f7f2b8eccd7c2e7b378f4bdecee392f7f3b8e00dfd2d774b7fcbddd2df6237f5b7d44dbd2d745b6fcbdc"
    "d7d73237f6b5c88d7d2d716b4f4bdcdcd3f236f7b4bcddfd2c6f7b3f4bdbe0cfd236f8b2b02dbe2c6c8f"
    "1fcbdae3c7a276f9"
)
ACC_C0 = bytes.fromhex("02009435770000000080") + ACC_C0_BODY
# AccDataTest "process acc compressed data type 1": ref (-15, 20, 1008), one 6-bit delta
ACC_C1 = bytes.fromhex("02650000000000000081f1ff1400f00306017b0f08")
# GyrDataTest "process gyro compressed data type 0": ts 2^63 - 1, ref (-22, 8, 13),
# one 3-bit delta (-1, +3, +3)
GYR_C0 = bytes.fromhex("05ffffffffffffff7f80eaff08000d000301df00")


def test_raw_type_1_frame() -> None:
    f = parse_frame(ACC_RAW)
    assert f.timestamp == TS
    assert f.raw.shape == (len(ACC_RAW_BODY) // 6, 3)
    np.testing.assert_array_equal(f.raw[:2], [[-9, -1, 999], [-8, -2, 997]])
    # first frame: the SDK puts the last sample at the frame's timestamp, the others
    # 1 / sample rate apart (52 Hz there)
    (frame,) = PolarPmdDecoder(sample_rate=52.0, gyro=False).decode(ACC_RAW)
    assert frame.tick + round(frame.offsets[-1] * 1e9) == TS
    np.testing.assert_allclose(frame.acc[0], np.array([-9, -1, 999]) * MG)


def test_compressed_type_0_with_factor_and_previous_timestamp() -> None:
    f = parse_frame(ACC_C0)
    assert f.raw.shape == (57, 3)  # reference sample + 56 deltas
    np.testing.assert_array_equal(f.raw[0], [1905, 27376, -29282])
    np.testing.assert_array_equal(f.raw[1], [1905 + 190, 27376 - 105, -29282 - 85])
    # the SDK spreads the samples evenly from the previous frame's timestamp (100 ns)
    # to this one: first = round(100 + (TS - 100) / 57). 57 samples over 2 s is
    # 28.5 Hz nominal; a previous frame at 100 ns sets the start.
    dec = PolarPmdDecoder(sample_rate=28.5, acc_factor=2.44e-4, gyro=False)
    previous = bytes.fromhex("02") + struct.pack("<Q", 100) + bytes.fromhex("01000000000000")
    assert len(dec.decode(previous)) == 1
    (frame,) = dec.decode(ACC_C0)
    assert abs(frame.tick - round(100 + (TS - 100) / 57)) <= 1
    assert frame.tick + round(frame.offsets[-1] * 1e9) == TS
    # the SDK asserts (factor * count * 1000).toInt() mG; we keep m/s^2 unrounded
    sdk_mg = np.trunc(np.float32(2.44e-4) * np.array([1905, 27376, -29282]) * 1000)
    np.testing.assert_allclose(frame.acc[0] / MG, sdk_mg, atol=1.0)


def test_compressed_type_1_and_gyro_type_0_counts() -> None:
    np.testing.assert_array_equal(parse_frame(ACC_C1).raw, [[-15, 20, 1008], [-20, 17, 1008]])
    g = parse_frame(GYR_C0)
    assert g.timestamp == (1 << 63) - 1
    np.testing.assert_array_equal(g.raw, [[-22, 8, 13], [-23, 11, 16]])


# GyrDataTest "process gyro compressed data type 1": ts 2 000 000 000, frame type 0x81,
# reference 0x3f800000 0x41200000 0x41a00000 (1.0, 10.0, 20.0 as float32 bits), one
# 28-bit delta block (0x01a00000, 0x00800000, -0x2133333) added to the bit patterns:
# 10.0, 20.0, 1.1
GYR_C1 = bytes.fromhex("050094357700000000810000803f000020410000a0411c010000a001000008cdccec0d")


def test_gyro_float_frames_of_the_sdk() -> None:
    f = parse_frame(GYR_C1)
    bits = np.array([[0x3F800000, 0x41200000, 0x41A00000]], dtype=np.int64)
    delta = np.array([0x01A00000, 0x00800000, 0xFDECCCCD], dtype=np.int64)
    bits = np.vstack((bits, (bits + delta) & 0xFFFFFFFF))
    want = bits.astype(np.uint32).view(np.float32).astype(np.float64)
    np.testing.assert_array_equal(f.raw, want)
    assert want[1].tolist() == pytest.approx([10.0, 20.0, 1.1], rel=1e-6)
    # "type 1 with factor": factor 0.5 halves them; we give rad/s
    dec = PolarPmdDecoder(sample_rate=52.0, gyr_factor=0.5)
    acc = bytes.fromhex("02") + struct.pack("<Q", TS) + bytes.fromhex("01") + bytes(12)
    assert dec.decode(GYR_C1) == []  # gyro waits for its accelerometer
    (frame,) = dec.decode(acc)
    assert frame.gyr is not None
    np.testing.assert_allclose(frame.gyr[-1], np.radians(0.5 * want[1]))


def test_gyro_frames_the_sdk_does_not_decode_are_counted() -> None:
    # the SDK throws on uncompressed gyro frames (GyrData.parseDataFromDataFrame): so do
    # we, as an unknown format, counted and never misread as another type
    raw_gyro = bytes.fromhex("05009435770000000000") + bytes(12)
    with pytest.raises(MalformedPacket) as e:
        parse_frame(raw_gyro)
    assert e.value.reason is Reason.VERSION
    dec = PolarPmdDecoder(sample_rate=52.0)
    assert dec.decode(raw_gyro) == []
    assert dec.skipped() == {Reason.VERSION: 1}


def test_control_point_responses() -> None:
    # BlePmdClientControlPointResponseTest: success for ACC settings, and a failure
    ok = pmdc.parse_response(bytes.fromhex("f001020000ffffff"))
    assert (ok.opcode, ok.measurement, ok.status, ok.more, ok.params) == (
        1,
        2,
        0,
        False,
        b"\xff\xff\xff",
    )
    bad = pmdc.parse_response(bytes.fromhex("f001060700"))
    assert (bad.status, bad.ok, bad.params) == (pmdc.PmdStatus.INVALID_RESOLUTION, False, b"")


def test_settings_lists() -> None:
    # PmdSettingTest.testPmdSettingsWithRange: 52 Hz, 16 bit, 245/500/1000/2000, 3 channels
    data = bytes.fromhex("00013400010110000204f500f401e803d007040103")
    assert pmdc.parse_settings(data) == {
        pmdc.SettingType.SAMPLE_RATE: (52,),
        pmdc.SettingType.RESOLUTION: (16,),
        pmdc.SettingType.RANGE: (245, 500, 1000, 2000),
        pmdc.SettingType.CHANNELS: (3,),
    }
    # testPmdSettingWithRangeMilliUnit: signed 32-bit values -1 and 255, resolution 14
    data = bytes.fromhex("0302ffffffffff00000001010e00")
    assert pmdc.parse_settings(data) == {
        pmdc.SettingType.RANGE_MILLIUNIT: (-1, 255),
        pmdc.SettingType.RESOLUTION: (14,),
    }


def test_start_request_and_factor() -> None:
    chosen = {
        pmdc.SettingType.SAMPLE_RATE: 208,
        pmdc.SettingType.RESOLUTION: 16,
        pmdc.SettingType.RANGE: 8,
        pmdc.SettingType.CHANNELS: 3,
    }
    request = pmdc.encode_request(pmdc.Opcode.START, 2, pmdc.encode_settings(chosen))
    # 02 start, 02 ACC, then (type, count 1, value LE) per setting
    assert request.hex() == "02020001d0000101100002010800040103"
    answer = pmdc.parse_settings(bytes([5, 1]) + struct.pack("<f", 2.44e-4))
    assert pmdc.factor(answer) == pytest.approx(2.44e-4)
    assert pmdc.factor({}) == 1.0
    assert pmdc.parse_features(bytes.fromhex("0f2502")) == {0, 2, 5, 9}
