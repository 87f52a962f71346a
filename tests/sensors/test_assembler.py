"""BlockAssembler: sequence wrap, losses, duplicates, reordering, restarts, malformed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sensors.assembler import BlockAssembler
from sensors.protocols.base import Reason
from sensors.protocols.mirrorwatch import AccRange, MirrorWatchDecoder, Packet, encode_packet
from sensors.types import ImuBlock, RawPacket, Side

N = 10  # samples per packet
ODR = 200
HZ = 32768
TICKS_PER_PACKET = N * HZ / ODR  # 1638.4


def _packet(k: int, *, seq0: int = 0, tick0: int = 0, restarted: bool = False) -> bytes:
    """Packet k of a steady stream; ax carries the global sample index to trace samples."""
    ax = np.arange(k * N, (k + 1) * N) % 32768
    acc = np.column_stack((ax, np.zeros(N), np.ones(N))).astype(np.int16)
    tick = round(tick0 + k * TICKS_PER_PACKET) % 2**32
    return encode_packet(
        Packet(seq=(seq0 + k) % 65536, tick=tick, raw_acc=acc, restarted=restarted)
    )


def _arrival(k: int) -> float:
    return 1.0 + (k + 1) * N / ODR  # right after the packet's last sample


def _feed(asm: BlockAssembler, items: list[tuple[float, bytes]]) -> list[ImuBlock]:
    return [b for at, data in items for b in asm.feed(RawPacket(Side.L, at, data))]


def _counts(blocks: list[ImuBlock]) -> list[int]:
    """The packet index each block's first sample came from."""
    scale = 32768 / AccRange.G16.full_scale
    return [round(float(b.acc[0, 0]) * scale) // N for b in blocks]


def test_steady_stream_is_continuous_across_seq_and_tick_wrap() -> None:
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    items = [(_arrival(k), _packet(k, seq0=65530, tick0=2**32 - 5000)) for k in range(40)]
    blocks = _feed(asm, items)
    assert len(blocks) == 40
    assert [b.lost for b in blocks] == [0] * 40
    assert [b.seq for b in blocks[:8]] == [65530, 65531, 65532, 65533, 65534, 65535, 0, 1]
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)
    np.testing.assert_allclose(np.diff(t), 1 / ODR, atol=1e-4)
    stats = asm.stats
    assert (stats.packets, stats.blocks, stats.samples, stats.lost) == (40, 40, 400, 0)
    assert (stats.resets, stats.duplicates, stats.malformed) == (0, 0, 0)
    assert all(b.side is Side.L and b.gyr is None for b in blocks)


def test_lost_packets_across_seq_wrap_become_lost_samples() -> None:
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    kept = [0, 1, 2, 5, 6, 9]  # seq 65534, 65535, 0, [1, 2 lost], 3, 4, [5, 6 lost], 7
    blocks = _feed(asm, [(_arrival(k), _packet(k, seq0=65534)) for k in kept])
    assert [b.lost for b in blocks] == [0, 0, 0, 2 * N, 0, 2 * N]
    assert asm.stats.lost == 4 * N
    # the block after the gap starts where the missing samples end
    gap = blocks[3].t[0] - blocks[2].t[-1]
    assert gap == pytest.approx((2 * N + 1) / ODR, abs=1e-3)


def test_long_outage_counted_from_ticks_although_seq_wrapped() -> None:
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    far = 70_000  # more packets than the 16-bit counter holds: seq alone cannot tell
    blocks = _feed(asm, [(_arrival(0), _packet(0)), (_arrival(far), _packet(far))])
    assert blocks[1].lost == (far - 1) * N
    assert asm.stats.resets == 0


def test_duplicates_and_late_packets_are_dropped_and_counted() -> None:
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    order = [0, 1, 1, 2, 4, 3, 5]  # 1 twice; 3 after 4
    blocks = _feed(asm, [(_arrival(max(order[: i + 1])), _packet(k)) for i, k in enumerate(order)])
    assert [b.seq for b in blocks] == [0, 1, 2, 4, 5]
    assert [b.lost for b in blocks] == [0, 0, 0, N, 0]  # 3 counted lost when 4 came first
    stats = asm.stats
    assert (stats.duplicates, stats.out_of_order, stats.lost) == (1, 1, N)


def test_restart_flag_new_clock_and_lost_from_session_time() -> None:
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    before = [(_arrival(k), _packet(k, seq0=500, tick0=123_456_789)) for k in range(10)]
    # rebooted: seq and tick from zero, flag set, arriving where packet 20 would have:
    # packets 10..19 (100 samples) of session time passed without data
    after = [(_arrival(20 + k), _packet(k, restarted=k == 0)) for k in range(5)]
    blocks = _feed(asm, before + after)
    assert len(blocks) == 15
    assert asm.stats.resets == 1
    assert asm.clock.epoch == 1
    assert blocks[10].lost == pytest.approx(10 * N, abs=2)
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)
    assert blocks[10].t[0] == pytest.approx(_arrival(20) - (N - 1) / ODR, abs=1e-3)


def test_restart_without_flag_detected_from_seq_and_ticks() -> None:
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    before = [(_arrival(k), _packet(k, seq0=5000, tick0=10**9)) for k in range(5)]
    after = [(_arrival(6 + k), _packet(k)) for k in range(5)]  # seq 0.., tick 0..
    blocks = _feed(asm, before + after)
    assert len(blocks) == 10  # nothing dropped as "late"
    assert asm.stats.resets == 1
    assert asm.stats.out_of_order == 0


def test_reboot_restarting_seq_and_ticks_together_is_no_late_copy() -> None:
    """Packets 0..39 from power-on, then a crash and reboot without the flag reaching us:
    seq and tick start over together, so the new packets look like copies of old ones
    with matching ticks, but seconds behind: no BLE link reorders that far."""
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    before = [(_arrival(k), _packet(k)) for k in range(40)]
    after = [(_arrival(42 + k), _packet(k)) for k in range(10)]  # seq 0.., tick 0.. again
    blocks = _feed(asm, before + after)
    assert len(blocks) == 50
    stats = asm.stats
    assert (stats.resets, stats.out_of_order, stats.duplicates) == (1, 0, 0)
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)


def test_malformed_counted_by_reason_and_skipped() -> None:
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    good = [_packet(k) for k in range(3)]
    items = [
        (_arrival(0), good[0]),
        (_arrival(1), b"\x01\x00"),  # truncated
        (_arrival(1), good[1][:-2]),  # length
        (_arrival(1), b"\x07" + good[1][1:]),  # version
        (_arrival(1), good[1]),
        (_arrival(2), good[2]),
    ]
    blocks = _feed(asm, items)
    assert [b.seq for b in blocks] == [0, 1, 2]
    assert asm.stats.malformed == 3
    assert asm.skipped() == {Reason.TRUNCATED: 1, Reason.LENGTH: 1, Reason.VERSION: 1}


def test_samples_keep_their_order_and_values() -> None:
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    blocks = _feed(asm, [(_arrival(k), _packet(k)) for k in range(5)])
    assert _counts(blocks) == [0, 1, 2, 3, 4]


def test_early_clock_corrections_never_move_time_backwards() -> None:
    rng = np.random.default_rng(7)
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    # the first packet arrives 30 ms late, later ones nearly on time: the estimate jumps
    delays = np.concatenate(([0.030], rng.uniform(0.0, 0.002, 50)))
    blocks = _feed(asm, [(_arrival(k) + d, _packet(k)) for k, d in enumerate(delays)])
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)
    assert asm.stats.retimed > 0
    # a last sample maps to its packet's arrival minus the smallest delay seen (~0 here)
    assert blocks[-1].t[-1] == pytest.approx(_arrival(50), abs=0.003)


def test_wrong_side_is_a_programming_error() -> None:
    asm = BlockAssembler(Side.R, MirrorWatchDecoder())
    with pytest.raises(ValueError, match="side"):
        asm.feed(RawPacket(Side.L, 0.0, _packet(0)))


def test_counter_restart_alone_keeps_the_clock() -> None:
    # a firmware that restarts seq (but not its tick) on start: no clock restart, no loss
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    before = [(_arrival(k), _packet(k, seq0=9000)) for k in range(5)]
    after = [(_arrival(k), _packet(k, seq0=-5)) for k in range(5, 10)]  # seq 0, 1, ...
    blocks = _feed(asm, before + after)
    assert len(blocks) == 10
    assert (asm.stats.resets, asm.stats.lost, asm.clock.epoch) == (0, 0, 0)


@settings(max_examples=60, deadline=None)
@given(
    keep=st.lists(st.booleans(), min_size=2, max_size=120),
    repeat=st.lists(st.integers(0, 119), max_size=10),
    seq0=st.integers(0, 65535),
)
def test_every_sample_is_delivered_or_counted_lost(
    keep: list[bool], repeat: list[int], seq0: int
) -> None:
    kept = [k for k, on in enumerate(keep) if on]
    assume(kept)
    order = [k for k in kept for _ in range(1 + repeat.count(k))]  # some sent twice
    asm = BlockAssembler(Side.L, MirrorWatchDecoder())
    blocks = _feed(asm, [(_arrival(k), _packet(k, seq0=seq0)) for k in order])
    span = (kept[-1] - kept[0] + 1) * N
    assert sum(len(b) for b in blocks) + sum(b.lost for b in blocks) == span
    assert asm.stats.duplicates == len(order) - len(kept)
    assert _counts(blocks) == kept
