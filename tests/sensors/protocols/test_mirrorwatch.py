"""MirrorWatch packet v1 from literal bytes (firmware_notes/packet.md, worked example)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.protocols.base import MalformedPacket, Reason
from sensors.protocols.mirrorwatch import (
    AccRange,
    GyrRange,
    MirrorWatchDecoder,
    Packet,
    StreamSplitter,
    encode_packet,
    parse_packet,
    to_raw,
)

G = 9.80665

# The worked example of firmware_notes/packet.md, two samples with gyro.
EXAMPLE = bytes.fromhex(
    "01"  # off 0  version 1
    "01"  # off 1  flags: bit0 gyro present; not restarted; gravity included
    "3412"  # off 2  seq 0x1234 = 4660
    "00000100"  # off 4  tick 0x00010000 = 65536 (2.0 s at 32768 Hz)
    "00800000"  # off 8  tick_hz 0x00008000 = 32768
    "c800"  # off 12 odr_hz 0x00c8 = 200
    "02"  # off 14 n = 2 samples
    "43"  # off 15 ranges: acc code 3 = ±16 g, gyro code 4 = ±2000 dps
    # sample 0: ax ay az gx gy gz
    "0008"  # ax 0x0800 = 2048 -> 2048/32768*16 g = 1 g
    "0000"  # ay 0
    "00f8"  # az 0xf800 = -2048 -> -1 g
    "1000"  # gx 0x0010 = 16 -> 16/32768*2000 = 0.9765625 dps
    "0000"  # gy 0
    "f0ff"  # gz 0xfff0 = -16 -> -0.9765625 dps
    # sample 1
    "0000"  # ax 0
    "0008"  # ay 1 g
    "ff7f"  # az 0x7fff = 32767 -> 15.99951 g
    "0000"  # gx 0
    "0040"  # gy 0x4000 = 16384 -> 1000 dps
    "0080"  # gz 0x8000 = -32768 -> -2000 dps
)


def test_worked_example_field_by_field() -> None:
    p = parse_packet(EXAMPLE)
    assert len(EXAMPLE) == 40
    assert (p.seq, p.tick, p.tick_hz, p.odr_hz, len(p)) == (4660, 65536, 32768, 200, 2)
    assert (p.acc_range, p.gyr_range) == (AccRange.G16, GyrRange.DPS2000)
    assert (p.restarted, p.linear) == (False, False)
    np.testing.assert_allclose(p.acc, [[G, 0, -G], [0, G, 32767 / 32768 * 16 * G]])
    gyr = p.gyr
    assert gyr is not None
    dps = math.radians(1.0)
    want = [[0.9765625, 0, -0.9765625], [0, 1000, -2000]]
    np.testing.assert_allclose(gyr, np.array(want) * dps)
    assert encode_packet(p) == EXAMPLE


def test_decoder_frame_times_and_units() -> None:
    dec = MirrorWatchDecoder()
    (frame,) = dec.decode(EXAMPLE)
    assert (frame.seq, frame.tick, frame.tick_hz) == (4660, 65536, 32768.0)
    # sample 1 is at tick + 32768/200 = 163.84 ticks later = 5 ms of sensor time
    np.testing.assert_allclose(frame.offsets, [0.0, 0.005])
    assert frame.odr_hz == 200.0
    assert frame.acc[0, 0] == pytest.approx(G)
    assert dec.skipped() == {}


def test_accelerometer_only_packet() -> None:
    data = bytes.fromhex(
        "01"  # version 1
        "04"  # flags: bit2 linear acceleration (gravity removed), no gyro
        "ffff"  # seq 65535, the last before wrap
        "ffffffff"  # tick 2^32-1, the last before wrap
        "e8030000"  # tick_hz 1000
        "3200"  # odr 50 Hz
        "01"  # n = 1
        "00"  # ranges: acc ±2 g (gyro nibble 0, unused)
        "0040"  # ax 16384 -> 1 g at ±2 g
        "00c0"  # ay -16384 -> -1 g
        "0100"  # az 1 -> 2/32768 g
    )
    p = parse_packet(data)
    assert (p.raw_gyr, p.gyr, p.linear) == (None, None, True)
    assert (p.seq, p.tick, p.tick_hz, p.odr_hz) == (65535, 2**32 - 1, 1000, 50)
    np.testing.assert_allclose(p.acc, [[G, -G, 2 / 32768 * G]])
    (frame,) = MirrorWatchDecoder().decode(data)
    assert frame.gyr is None
    assert encode_packet(p) == data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", Reason.TRUNCATED),
        (EXAMPLE[:15], Reason.TRUNCATED),
        (b"\x02" + EXAMPLE[1:], Reason.VERSION),  # version 2
        (EXAMPLE[:1] + b"\x09" + EXAMPLE[2:], Reason.RESERVED),  # flag bit3
        (EXAMPLE[:14] + b"\x00" + EXAMPLE[15:], Reason.FIELD),  # n = 0
        (EXAMPLE[:12] + b"\x7b\x00" + EXAMPLE[14:], Reason.FIELD),  # odr 123 Hz
        (EXAMPLE[:8] + b"\x00\x00\x00\x00" + EXAMPLE[12:], Reason.FIELD),  # tick_hz 0
        (EXAMPLE[:15] + b"\x44" + EXAMPLE[16:], Reason.FIELD),  # acc code 4
        (EXAMPLE[:15] + b"\x53" + EXAMPLE[16:], Reason.FIELD),  # gyro code 5
        (EXAMPLE[:-1], Reason.LENGTH),  # one byte short
        (EXAMPLE + b"\x00", Reason.LENGTH),  # one byte extra
        (EXAMPLE[:1] + b"\x00" + EXAMPLE[2:], Reason.LENGTH),  # gyro flag cleared: 28 expected
    ],
)
def test_malformed_counted_and_skipped(data: bytes, reason: Reason) -> None:
    with pytest.raises(MalformedPacket) as err:
        parse_packet(data)
    assert err.value.reason is reason
    dec = MirrorWatchDecoder()
    assert dec.decode(data) == []
    assert len(dec.decode(EXAMPLE)) == 1  # the stream goes on
    assert dec.skipped() == {reason: 1}


def _packets(seed: int, count: int) -> list[Packet]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        n = int(rng.integers(1, 30))
        gyro = bool(rng.integers(0, 2))
        out.append(
            Packet(
                seq=k,
                tick=int(rng.integers(0, 2**32)),
                raw_acc=rng.integers(-32768, 32768, (n, 3)).astype(np.int16),
                raw_gyr=rng.integers(-32768, 32768, (n, 3)).astype(np.int16) if gyro else None,
                odr_hz=int(rng.choice([50, 100, 200, 400])),
                acc_range=AccRange(int(rng.integers(0, 4))),
                gyr_range=GyrRange(int(rng.integers(0, 5))),
                restarted=bool(rng.integers(0, 2)),
            )
        )
    return out


def test_stream_whole_concatenated_and_byte_by_byte() -> None:
    packets = [encode_packet(p) for p in _packets(seed=3, count=25)]
    stream = b"".join(packets)
    whole = StreamSplitter()
    assert whole.feed(stream) == packets
    one = StreamSplitter()
    got = [pkt for i in range(len(stream)) for pkt in one.feed(stream[i : i + 1])]
    assert got == packets
    assert (whole.pending, one.pending, whole.skipped_bytes, one.skipped_bytes) == (0, 0, 0, 0)
    # every packet in the stream decodes back to the same bytes
    dec = MirrorWatchDecoder()
    assert all(len(dec.decode(pkt)) == 1 for pkt in got)


def test_stream_skips_garbage_between_packets() -> None:
    good = [encode_packet(p) for p in _packets(seed=4, count=3)]
    garbage = bytes(range(0x80, 0x80 + 21))  # no byte 0x01 there: cannot start a header
    split = StreamSplitter()
    assert split.feed(good[0] + garbage + good[1] + good[2][:10]) == good[:2]
    assert split.skipped_bytes == len(garbage)
    assert split.pending == 10
    assert split.feed(good[2][10:]) == [good[2]]


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(0, 65535),
    tick=st.integers(0, 2**32 - 1),
    n=st.integers(1, 255),
    gyro=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_roundtrip_any_packet(seq: int, tick: int, n: int, gyro: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = Packet(
        seq=seq,
        tick=tick,
        raw_acc=rng.integers(-32768, 32768, (n, 3)).astype(np.int16),
        raw_gyr=rng.integers(-32768, 32768, (n, 3)).astype(np.int16) if gyro else None,
    )
    data = encode_packet(p)
    assert len(data) == 16 + n * (12 if gyro else 6)
    q = parse_packet(data)
    np.testing.assert_array_equal(q.raw_acc, p.raw_acc)
    assert (q.seq, q.tick, q.raw_gyr is None) == (seq, tick, not gyro)
    assert encode_packet(q) == data


def test_to_raw_rounds_and_saturates() -> None:
    fs = AccRange.G2.full_scale
    raw = to_raw(np.array([0.0, G, -2 * G, 3 * G, -3 * G]), fs)
    np.testing.assert_array_equal(raw, [0, 16384, -32768, 32767, -32768])
    assert raw.dtype == np.int16


def test_packet_rejects_impossible_fields() -> None:
    acc = np.zeros((2, 3), np.int16)
    with pytest.raises(ValueError, match="odr_hz"):
        Packet(seq=0, tick=0, raw_acc=acc, odr_hz=123)
    with pytest.raises(ValueError, match="u16"):
        Packet(seq=65536, tick=0, raw_acc=acc)
    with pytest.raises(ValueError, match="raw_acc"):
        Packet(seq=0, tick=0, raw_acc=np.zeros((256, 3), np.int16))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=80))
def test_random_bytes_never_raise(data: bytes) -> None:
    dec = MirrorWatchDecoder()
    for packet in (data, EXAMPLE[:16] + data, b"\x01\x01" + data):
        for frame in dec.decode(packet):
            assert len(frame) >= 1
    split = StreamSplitter()
    assert all(len(pkt) >= 16 for pkt in split.feed(data + EXAMPLE))
