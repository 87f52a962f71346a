"""Hypothesis strategies for the fuzz tests: arbitrary bytes, and bytes shaped like packets.

Pure random bytes mostly stop at the first header check, so each decoder also gets
inputs with a plausible header and an arbitrary or mutated body, which reach the
length checks, the sample parsing and (for Polar) the delta-block decoder.
"""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import strategies as st

from sensors.protocols.mirrorwatch import ODR_HZ, AccRange, GyrRange, Packet, encode_packet


@st.composite
def mirrorwatch_packets(draw: st.DrawFn) -> Packet:
    """A valid v1 packet, every field drawn."""
    n = draw(st.integers(1, 40))
    gyro = draw(st.booleans())
    # drawn as bytes: hypothesis draws a blob far faster than 6n separate integers
    cells = draw(st.binary(min_size=n * 12, max_size=n * 12))
    raw = np.frombuffer(cells, dtype="<i2").astype(np.int16).reshape(n, 6)
    return Packet(
        seq=draw(st.integers(0, 2**16 - 1)),
        tick=draw(st.integers(0, 2**32 - 1)),
        raw_acc=raw[:, :3].copy(),
        raw_gyr=raw[:, 3:].copy() if gyro else None,
        tick_hz=draw(st.integers(1, 2**32 - 1)),
        odr_hz=draw(st.sampled_from(ODR_HZ)),
        acc_range=draw(st.sampled_from(AccRange)),
        gyr_range=draw(st.sampled_from(GyrRange)),
        restarted=draw(st.booleans()),
        linear=draw(st.booleans()),
    )


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid input with a few bytes overwritten, then cut or extended."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.integers(0, 3))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[: draw(st.sampled_from([len(data), cut]))]) + draw(st.binary(max_size=8))


MIRRORWATCH_BYTES = st.one_of(
    st.binary(max_size=600),
    mirrorwatch_packets().map(encode_packet),
    mutated(mirrorwatch_packets().map(encode_packet)),
    # a header that passes its checks, then any body
    st.builds(
        lambda header, body: header + body,
        st.builds(
            struct.pack,
            st.just("<BBHIIHBB"),
            st.just(1),
            st.integers(0, 7),
            st.integers(0, 2**16 - 1),
            st.integers(0, 2**32 - 1),
            st.integers(1, 2**32 - 1),
            st.sampled_from(ODR_HZ),
            st.integers(1, 255),
            st.sampled_from([a | g << 4 for a in AccRange for g in GyrRange]),
        ),
        st.binary(max_size=200),
    ),
)


@st.composite
def _delta_body(draw: st.DrawFn) -> bytes:
    """A reference sample then delta blocks (width, count, bits), any of them odd."""
    body = bytearray(draw(st.binary(min_size=6, max_size=6)))
    for _ in range(draw(st.integers(0, 4))):
        width, count = draw(st.integers(0, 40)), draw(st.integers(0, 12))
        size = (width * count * 3 + 7) // 8
        body += bytes((width, count)) + draw(st.binary(min_size=size, max_size=size))
    return bytes(body) + draw(st.sampled_from([b"", b"\x04"]))


# (measurement byte, frame type byte): the formats the decoder knows, and some it does not
_PMD_TYPES = [(2, 0x00), (2, 0x01), (2, 0x02), (2, 0x80), (2, 0x81), (5, 0x80), (5, 0x00)]


@st.composite
def pmd_frames(draw: st.DrawFn, timestamp: st.SearchStrategy[int]) -> bytes:
    """A PMD data notification with a known header and a plain or delta-coded body."""
    kind, frame_type = draw(st.sampled_from(_PMD_TYPES))
    kind |= draw(st.sampled_from([0, 0x40, 0x80]))  # the high bits are not the type
    header = struct.pack("<BQB", kind, draw(timestamp), frame_type)
    body = draw(_delta_body()) if frame_type & 0x80 else draw(st.binary(max_size=120))
    return header + body


# Timestamps near each other, so consecutive frames pair, repeat and go backwards.
NEAR_TIMESTAMPS = st.integers(10**18, 10**18 + 3 * 10**9)
ANY_TIMESTAMPS = st.integers(0, 2**64 - 1)

PMD_BYTES = st.one_of(
    st.binary(max_size=300),
    pmd_frames(NEAR_TIMESTAMPS),
    pmd_frames(ANY_TIMESTAMPS),
    mutated(pmd_frames(NEAR_TIMESTAMPS)),
)
