"""Polar PMD ACC/GYRO frames from literal bytes built from the public specification.

Where the bytes come from: Polar's "Polar Measurement Data Specification" and the open
Polar BLE SDK (polarofficial/polar-ble-sdk: PmdDataFrame.kt for the 10-byte header,
AccData.kt / GyrData.kt for frame types and units, BlePMDClient.parseDeltaFramesAll for
the delta blocks, PmdTimeStampUtils.kt for sample times, TimeSystemExplained.md for the
2000-01-01 epoch). A PMD frame has no length field (its end is the notification's end),
so frames cannot be concatenated or split: each test feeds whole notifications.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.assembler import BlockAssembler
from sensors.protocols.base import MalformedPacket, Reason
from sensors.protocols.polar_pmd import (
    EPOCH_UNIX_NS,
    Measurement,
    PolarPmdDecoder,
    parse_frame,
)
from sensors.types import RawPacket, Side

MG = 9.80665e-3  # m/s^2 per mG
DEG = np.pi / 180
TS = 820_540_800_000_000_000  # 2026-01-01T00:00:00Z: 820540800 s after 2000-01-01
PERIOD = round(1e9 / 52)  # ns at 52 Hz = 19230769

ACC_COMPRESSED = bytes.fromhex(
    "02"  # measurement type 2 = ACC
    "0000b79b8225630b"  # u64 LE timestamp of the last sample = TS
    "81"  # frame type: bit7 compressed, type 1 (value * factor = mG)
    "6400"  # reference x = 100
    "38ff"  # reference y = -200
    "e803"  # reference z = 1000
    "04"  # delta block: 4 bits per value
    "02"  # 2 samples -> 2 * 3 * 4 = 24 bits = 3 bytes, LSB first, x y z interleaved
    "e1"  # bits 0-3 x +1 (0001), bits 4-7 y -2 (1110)
    "03"  # bits 8-11 z +3 (0011), bits 12-15 x 0 (0000)
    "87"  # bits 16-19 y +7 (0111), bits 20-23 z -8 (1000)
)
ACC_COMPRESSED_MG = [[100, -200, 1000], [101, -202, 1003], [101, -195, 995]]

ACC_RAW = bytes.fromhex(
    "02"  # ACC
    + struct.pack("<Q", TS + 2 * PERIOD).hex()  # two samples after TS
    + "01"  # uncompressed type 1: int16 x y z in mG
    "0000"  # sample 0: x 0
    "0000"  # y 0
    "e803"  # z 1000 mG
    "ffff"  # sample 1: x -1
    "0100"  # y 1
    "18fc"  # z -1000 mG
)

GYRO_COMPRESSED = bytes.fromhex(
    "05"  # measurement type 5 = GYRO
    "0000b79b8225630b"  # timestamp TS, same instants as ACC_COMPRESSED
    "80"  # compressed, type 0 (value * factor = deg/s)
    "0a00"  # reference x = 10
    "f6ff"  # reference y = -10
    "0000"  # reference z = 0
    "02"  # 2 bits per value
    "02"  # 2 samples -> 12 bits -> 2 bytes
    "8d"  # 0b10_00_11_01: x +1 (01), y -1 (11), z 0 (00), x -2 (10)
    "05"  # 0b0000_01_01: y +1 (01), z +1 (01), 4 padding bits
)
GYRO_COUNTS = [[10, -10, 0], [11, -11, 0], [9, -10, 1]]


def test_compressed_acc_frame_field_by_field() -> None:
    f = parse_frame(ACC_COMPRESSED)
    assert (f.measurement, f.timestamp, f.compressed, f.frame_type) == (
        Measurement.ACC,
        TS,
        True,
        1,
    )
    np.testing.assert_array_equal(f.raw, ACC_COMPRESSED_MG)
    # the timestamp is nanoseconds since 2000-01-01: 2026-01-01 in Unix time
    assert (TS + EPOCH_UNIX_NS) // 10**9 == 1767225600


def test_acc_only_decoder_units_and_first_frame_times() -> None:
    dec = PolarPmdDecoder(sample_rate=52.0, acc_factor=1.0, gyro=False)
    (frame,) = dec.decode(ACC_COMPRESSED)
    np.testing.assert_allclose(frame.acc, np.array(ACC_COMPRESSED_MG) * MG)
    assert frame.gyr is None
    # first frame: nominal 1/52 s spacing back from the last sample's timestamp
    assert frame.tick == TS - 2 * PERIOD
    assert frame.tick_hz == 1e9
    np.testing.assert_allclose(frame.offsets, [0.0, PERIOD / 1e9, 2 * PERIOD / 1e9])
    # next frame: spacing from the previous frame's timestamp, (2 * PERIOD) / 2 samples
    (frame2,) = dec.decode(ACC_RAW)
    assert frame2.tick == TS + PERIOD
    np.testing.assert_allclose(frame2.acc, np.array([[0, 0, 1000], [-1, 1, -1000]]) * MG)
    assert dec.decode(GYRO_COMPRESSED) == []  # gyro ignored when not asked for
    assert dec.skipped() == {}


def test_factor_scales_compressed_values() -> None:
    (frame,) = PolarPmdDecoder(acc_factor=0.5, gyro=False).decode(ACC_COMPRESSED)
    np.testing.assert_allclose(frame.acc, np.array(ACC_COMPRESSED_MG) * 0.5 * MG)
    # compressed ACC type 0 is in g, not mG
    type0 = ACC_COMPRESSED[:9] + b"\x80" + ACC_COMPRESSED[10:]
    (frame0,) = PolarPmdDecoder(acc_factor=0.001, gyro=False).decode(type0)
    np.testing.assert_allclose(frame0.acc, np.array(ACC_COMPRESSED_MG) * MG)


def test_acc_and_gyro_paired_on_acc_times() -> None:
    dec = PolarPmdDecoder(sample_rate=52.0, gyr_factor=0.1)
    assert dec.decode(ACC_COMPRESSED) == []  # waits for gyro samples to bracket it
    (frame,) = dec.decode(GYRO_COMPRESSED)
    assert frame.gyr is not None
    np.testing.assert_allclose(frame.gyr, np.array(GYRO_COUNTS) * 0.1 * DEG)
    np.testing.assert_allclose(frame.acc, np.array(ACC_COMPRESSED_MG) * MG)
    assert frame.tick == TS - 2 * PERIOD
    assert dec.skipped() == {}


def test_gyro_interpolated_between_its_samples() -> None:
    dec = PolarPmdDecoder(sample_rate=52.0, gyr_factor=1.0)
    # gyro half a period later than acc: x goes 10 -> 11 -> 9, acc sees the midpoints
    late = GYRO_COMPRESSED[:1] + struct.pack("<Q", TS + PERIOD // 2) + GYRO_COMPRESSED[9:]
    assert dec.decode(late) == []
    (frame,) = dec.decode(ACC_COMPRESSED)
    assert frame.gyr is not None
    # acc sample 0 precedes every gyro sample: dropped and counted
    assert len(frame) == 2
    np.testing.assert_allclose(frame.gyr[:, 0] / DEG, [10.5, 10.0], atol=1e-6)
    assert dec.skipped() == {Reason.UNPAIRED: 1}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (ACC_COMPRESSED[:9], Reason.TRUNCATED),
        (b"\x01" + ACC_COMPRESSED[1:], Reason.VERSION),  # PPG is not decoded here
        (GYRO_COMPRESSED[:9] + b"\x00" + GYRO_COMPRESSED[10:], Reason.VERSION),  # raw gyro
        (ACC_RAW[:-1], Reason.LENGTH),  # 11 bytes is no whole number of 6-byte samples
        (ACC_RAW[:10], Reason.PAYLOAD),  # no samples at all
        (ACC_COMPRESSED[:14], Reason.PAYLOAD),  # reference sample cut short
        (ACC_COMPRESSED[:17], Reason.PAYLOAD),  # delta block header cut short
        (ACC_COMPRESSED[:-1], Reason.PAYLOAD),  # delta bits cut short
        (ACC_COMPRESSED[:16] + b"\x00" + ACC_COMPRESSED[17:], Reason.PAYLOAD),  # width 0
    ],
)
def test_malformed_counted_and_skipped(data: bytes, reason: Reason) -> None:
    with pytest.raises(MalformedPacket) as err:
        parse_frame(data)
    assert err.value.reason is reason
    dec = PolarPmdDecoder(gyro=False)
    assert dec.decode(data) == []
    assert len(dec.decode(ACC_COMPRESSED)) == 1  # the stream goes on
    assert dec.skipped() == {reason: 1}


def test_repeated_frame_skipped_and_clock_set_back_flagged() -> None:
    dec = PolarPmdDecoder(gyro=False)
    assert len(dec.decode(ACC_COMPRESSED)) == 1
    assert dec.decode(ACC_COMPRESSED) == []
    assert dec.skipped() == {Reason.TIMESTAMP: 1}
    earlier = ACC_COMPRESSED[:1] + struct.pack("<Q", TS - 10**12) + ACC_COMPRESSED[9:]
    (frame,) = dec.decode(earlier)
    assert frame.restarted
    assert frame.tick == TS - 10**12 - 2 * PERIOD


def _encode_delta(samples: np.ndarray, width: int) -> bytes:
    """Test-side encoder: int16 reference sample, then one block of `width`-bit deltas."""
    body = bytes(samples[0].astype("<i2").tobytes())
    if len(samples) > 1:
        deltas = np.diff(samples, axis=0).ravel()
        bits = ((deltas[:, None] >> np.arange(width)) & 1).astype(np.uint8).ravel()
        body += bytes([width, len(samples) - 1]) + np.packbits(bits, bitorder="little").tobytes()
    return body


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), width=st.integers(2, 16))
def test_delta_blocks_any_width(seed: int, n: int, width: int) -> None:
    rng = np.random.default_rng(seed)
    half = 1 << (width - 1)
    deltas = rng.integers(-half, half, (n - 1, 3))
    start = rng.integers(-1000, 1000, (1, 3))
    samples = np.cumsum(np.vstack((start, deltas)), axis=0)
    data = b"\x02" + struct.pack("<Q", TS) + b"\x81" + _encode_delta(samples, width)
    np.testing.assert_array_equal(parse_frame(data).raw, samples)


def _acc_frame(ts: int, n: int) -> bytes:
    samples = np.column_stack((np.arange(n), np.zeros(n), np.full(n, 1000))).astype(np.int64)
    return b"\x02" + struct.pack("<Q", ts) + b"\x81" + _encode_delta(samples, 4)


def test_through_the_assembler_a_lost_frame_becomes_lost_samples() -> None:
    asm = BlockAssembler(Side.R, PolarPmdDecoder(sample_rate=52.0, gyro=False))
    n, blocks = 9, []
    for k in [0, 1, 2, 4, 5]:  # frame 3 lost
        last = TS + ((k + 1) * n - 1) * PERIOD
        arrival = 5.0 + ((k + 1) * n - 1) * PERIOD / 1e9 + 0.004
        blocks += asm.feed(RawPacket(Side.R, arrival, _acc_frame(last, n)))
    assert [b.lost for b in blocks] == [0, 0, 0, n, 0]
    assert [b.seq for b in blocks] == [0, 1, 2, 3, 4]  # no counter in PMD: block number
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)
    assert blocks[-1].t[-1] == pytest.approx(5.0 + (6 * n - 1) * PERIOD / 1e9, abs=0.005)
    assert asm.stats.resets == 0


def test_accelerometer_waiting_too_long_for_gyro_is_dropped_and_counted() -> None:
    dec = PolarPmdDecoder(sample_rate=52.0)
    n = 9
    for k in range(8):  # 8 frames x 9 samples = 1.38 s of accelerometer, no gyro at all
        assert dec.decode(_acc_frame(TS + ((k + 1) * n - 1) * PERIOD, n)) == []
    # samples more than 1 s (52 periods) before the newest (index 71) are given up: 0..18
    assert dec.skipped() == {Reason.UNPAIRED: 19}


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=80), gyro=st.booleans())
def test_random_bytes_never_raise(data: bytes, gyro: bool) -> None:
    dec = PolarPmdDecoder(gyro=gyro)
    for packet in (data, b"\x02" + data, b"\x05" + data):
        for frame in dec.decode(packet):
            assert len(frame) >= 1
    asm = BlockAssembler(Side.L, PolarPmdDecoder(gyro=gyro))
    for k, packet in enumerate((ACC_COMPRESSED, data, b"\x02" + data, GYRO_COMPRESSED)):
        asm.feed(RawPacket(Side.L, float(k), packet))


def test_empty_delta_block_adds_no_sample() -> None:
    # ACC_COMPRESSED with a block of 0 samples before its 2-sample block: found by
    # tests/fuzz, it used to raise IndexError instead of decoding
    empty = ACC_COMPRESSED[:16] + bytes.fromhex("0400") + ACC_COMPRESSED[16:]
    np.testing.assert_array_equal(parse_frame(empty).raw, ACC_COMPRESSED_MG)
    # and at the very end of the frame as well
    np.testing.assert_array_equal(parse_frame(ACC_COMPRESSED + b"\x04\x00").raw, ACC_COMPRESSED_MG)
