"""Fuzzed notifications (issue 7): decoders and the assembler never raise, skips are counted.

Each `@settings` is derandomized with a bounded `max_examples`, so a run is the same on
every machine and stays within seconds; benchmarks/fuzz.py runs 100 000+ inputs each.
"""

from __future__ import annotations

import numpy as np
from fuzz_inputs import MIRRORWATCH_BYTES, PMD_BYTES, mirrorwatch_packets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensors.assembler import BlockAssembler
from sensors.protocols import metawear as mw
from sensors.protocols.base import Decoder, Frame, MalformedPacket, Reason
from sensors.protocols.mirrorwatch import MirrorWatchDecoder, Packet, encode_packet, parse_packet
from sensors.protocols.polar_pmd import PolarPmdDecoder, parse_frame
from sensors.types import RawPacket, Side

FUZZ = settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _skips(decoder: Decoder, *, unpaired: bool = False) -> int:
    return sum(n for r, n in decoder.skipped().items() if unpaired or r is not Reason.UNPAIRED)


def _check_frame(frame: Frame) -> None:
    """What the assembler relies on beyond the shapes Frame checks itself."""
    assert np.isfinite(frame.acc).all()
    assert frame.gyr is None or np.isfinite(frame.gyr).all()
    assert np.isfinite(frame.offsets).all()


@FUZZ
@given(stream=st.lists(MIRRORWATCH_BYTES, max_size=12))
def test_mirrorwatch_decoder_decodes_or_counts_every_notification(stream: list[bytes]) -> None:
    dec = MirrorWatchDecoder()
    for data in stream:
        before = _skips(dec)
        frames = dec.decode(data)
        # one notification is one packet: a frame, or exactly one skip
        assert (len(frames), _skips(dec) - before) in {(1, 0), (0, 1)}
        for frame in frames:
            _check_frame(frame)


@FUZZ
@given(packet=mirrorwatch_packets())
def test_mirrorwatch_packets_round_trip_exactly(packet: Packet) -> None:
    data = encode_packet(packet)
    back = parse_packet(data)
    assert encode_packet(back) == data
    for name in ("seq", "tick", "tick_hz", "odr_hz", "acc_range", "gyr_range", "restarted"):
        assert getattr(back, name) == getattr(packet, name), name
    assert back.linear == packet.linear
    np.testing.assert_array_equal(back.raw_acc, packet.raw_acc)
    if packet.raw_gyr is None:
        assert back.raw_gyr is None
    else:
        np.testing.assert_array_equal(back.raw_gyr, packet.raw_gyr)
    dec = MirrorWatchDecoder()
    (frame,) = dec.decode(data)
    assert dec.skipped() == {}
    assert (frame.seq, frame.tick, frame.restarted) == (packet.seq, packet.tick, packet.restarted)
    assert (frame.tick_hz, frame.odr_hz) == (packet.tick_hz, packet.odr_hz)
    np.testing.assert_array_equal(frame.offsets, np.arange(len(packet)) / packet.odr_hz)
    np.testing.assert_array_equal(frame.acc, packet.acc)
    want_gyr = packet.gyr
    if want_gyr is None:
        assert frame.gyr is None
    else:
        assert frame.gyr is not None
        np.testing.assert_array_equal(frame.gyr, want_gyr)


@FUZZ
@given(
    stream=st.lists(PMD_BYTES, max_size=12),
    gyro=st.booleans(),
    sample_rate=st.sampled_from([52.0, 208.0, 1.0]),
)
def test_polar_decoder_decodes_or_counts_every_notification(
    stream: list[bytes], gyro: bool, sample_rate: float
) -> None:
    dec = PolarPmdDecoder(sample_rate=sample_rate, acc_factor=0.24, gyr_factor=0.03, gyro=gyro)
    for data in stream:
        before = _skips(dec)
        try:
            parse_frame(data)
            bad = False
        except MalformedPacket:
            bad = True
        frames = dec.decode(data)
        if bad:
            # what does not parse is counted once and gives nothing
            assert (frames, _skips(dec) - before) == ([], 1)
        for frame in frames:
            _check_frame(frame)
            assert (frame.gyr is not None) == gyro


def _assembled(decoder: Decoder, stream: list[bytes], gaps: list[float]) -> None:
    """Feed `stream` through an assembler; check the blocks and the counters."""
    asm = BlockAssembler(Side.L, decoder)
    received_at, last_t, samples = 0.0, -np.inf, 0
    for i, data in enumerate(stream):
        received_at += gaps[i % len(gaps)]
        for block in asm.feed(RawPacket(Side.L, received_at, data)):
            # ImuBlock checked shapes and increasing times within the block itself
            assert block.t[0] > last_t
            assert np.isfinite(block.t).all()
            assert block.lost >= 0
            last_t, samples = float(block.t[-1]), samples + len(block)
    stats = asm.stats
    assert stats.packets == len(stream)
    assert stats.samples == samples
    assert stats.malformed == _skips(decoder)


@FUZZ
@given(
    stream=st.lists(MIRRORWATCH_BYTES, max_size=16),
    gaps=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=4),
)
def test_assembler_takes_any_mirrorwatch_notifications(
    stream: list[bytes], gaps: list[float]
) -> None:
    _assembled(MirrorWatchDecoder(), stream, gaps)


@FUZZ
@given(
    stream=st.lists(PMD_BYTES, max_size=16),
    gaps=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=4),
    gyro=st.booleans(),
)
def test_assembler_takes_any_polar_notifications(
    stream: list[bytes], gaps: list[float], gyro: bool
) -> None:
    _assembled(PolarPmdDecoder(gyro=gyro), stream, gaps)


# MetaWear accounter notifications: mostly well-formed (ids 0-2, any tick, any counts),
# some cut or lengthened, some random bytes
_TIMED = st.builds(
    lambda pid, tick, xyz: bytes([0x09, 0x03, pid]) + tick.to_bytes(4, "little") + xyz,
    st.integers(0, 2),
    st.integers(0, 2**32 - 1),
    st.binary(min_size=6, max_size=6),
)
METAWEAR_TIMED_BYTES = st.one_of(
    _TIMED, _TIMED.map(lambda b: b[:-1]), _TIMED.map(lambda b: b + b"\x00"), st.binary(max_size=20)
)


@FUZZ
@given(
    stream=st.lists(METAWEAR_TIMED_BYTES, max_size=24),
    gaps=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=4),
    gyro=st.booleans(),
)
def test_assembler_takes_any_metawear_timed_notifications(
    stream: list[bytes], gaps: list[float], gyro: bool
) -> None:
    setup = mw.MetaWearSetup(odr_hz=100, gyro=gyro, timed=True)
    _assembled(mw.MetaWearTimedDecoder(setup, {mw.ACC: 0, mw.GYRO: 1}), stream, gaps)
