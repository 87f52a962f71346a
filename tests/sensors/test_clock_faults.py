"""Sensor clock trouble end to end: packets -> BlockAssembler -> Engine.

A simulated two-wrist session is packed into MirrorWatch packets (10 samples at
200 Hz, true ticks from the true sample times, arrival 0-10 ms after the last sample),
then the right wrist's (the active hand's) tick counter misbehaves from 40 s on: it
jumps back 2 s, restarts at zero (with and without the restart flag), stalls for 10 s
(and then runs on, or resumes from where it froze), or jumps 60 s ahead. Each must be
counted, lose no sample, keep session time increasing and close to the truth, and give
the engine the same movements as the clean stream, with no negative durations or lags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import pytest

from pipeline.engine import Engine, movements
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import MovementEvent
from sensors.assembler import AssemblerStats, BlockAssembler
from sensors.protocols.mirrorwatch import (
    AccRange,
    GyrRange,
    MirrorWatchDecoder,
    Packet,
    encode_packet,
    to_raw,
)
from sensors.simulated import SimConfig, simulate
from sensors.types import FloatArray, ImuBlock, RawPacket, Side

HZ = 32768
N = 10  # samples per packet
FS = 200.0
AT = 40.0  # s, when the fault starts
TICK0 = 1_000_000  # the sensor was on before the session
SEQ0 = 100

# (packet index, true time of its first sample, true tick, true seq) -> (tick, seq, flag)
Fault = Callable[[int, float, float, int], tuple[float, int, bool]]


def _clean(k: int, t0: float, tick: float, seq: int) -> tuple[float, int, bool]:
    return tick, seq, False


def _back(k: int, t0: float, tick: float, seq: int) -> tuple[float, int, bool]:
    return tick - (2 * HZ if t0 >= AT else 0), seq, False


def _reboot(flag: bool, seq_at: int = SEQ0) -> Fault:
    """Ticks from zero at AT, seq from zero too; `seq_at`: seq of packet 0."""
    first = round(AT * FS / N)

    def fault(k: int, t0: float, tick: float, seq: int) -> tuple[float, int, bool]:
        if t0 < AT:
            return tick, (seq - SEQ0 + seq_at) % 65536, False
        return (t0 - AT) * HZ, k - first, flag and k == first

    return fault


def _stall(resume_frozen: bool) -> Fault:
    """The tick field stands still for 10 s; then the true tick, or the tick resuming
    from the frozen value (a counter that was paused)."""

    def fault(k: int, t0: float, tick: float, seq: int) -> tuple[float, int, bool]:
        if AT <= t0 < AT + 10:
            return TICK0 + AT * HZ, seq, False
        if t0 >= AT + 10 and resume_frozen:
            return tick - 10 * HZ, seq, False
        return tick, seq, False

    return fault


def _ahead(k: int, t0: float, tick: float, seq: int) -> tuple[float, int, bool]:
    return tick + (60 * HZ if t0 >= AT else 0), seq, False


@dataclass(frozen=True)
class Run:
    blocks: list[ImuBlock]  # both sides, in arrival order
    true_t: dict[Side, FloatArray]
    stats: dict[Side, AssemblerStats]
    events: list[MovementEvent]


@cache
def _session() -> dict[Side, tuple[FloatArray, FloatArray, FloatArray]]:
    sim = simulate("firearm-drill", SimConfig(fs=FS, duration=70.0, seed=3))
    parts: dict[Side, list[ImuBlock]] = {side: [] for side in Side}
    for block in sim.blocks():
        parts[block.side].append(block)
    out = {}
    for side, blocks in parts.items():
        gyr = [b.gyr for b in blocks if b.gyr is not None]
        out[side] = (
            np.concatenate([b.t for b in blocks]),
            np.concatenate([b.acc for b in blocks]),
            np.concatenate(gyr),
        )
    return out


def _run(fault: Fault, faulty: Side = Side.R) -> Run:
    arrivals: list[RawPacket] = []
    true_t = {}
    for side, (t, acc, gyr) in _session().items():
        rng = np.random.default_rng(7 if side is Side.L else 8)
        n = len(t) // N * N
        true_t[side] = t[:n]
        for k in range(n // N):
            rows = slice(k * N, (k + 1) * N)
            tick, seq, flag = TICK0 + t[k * N] * HZ, (SEQ0 + k) % 65536, False
            if side is faulty:
                tick, seq, flag = fault(k, float(t[k * N]), tick, seq)
            packet = Packet(
                seq=seq % 65536,
                tick=round(tick) % 2**32,
                raw_acc=to_raw(acc[rows], AccRange.G16.full_scale),
                raw_gyr=to_raw(gyr[rows], GyrRange.DPS2000.full_scale),
                restarted=flag,
            )
            at = float(t[(k + 1) * N - 1]) + rng.uniform(0.0, 0.010)
            arrivals.append(RawPacket(side, at, encode_packet(packet)))
    arrivals.sort(key=lambda p: p.received_at)
    assemblers = {side: BlockAssembler(side, MirrorWatchDecoder()) for side in Side}
    engine = Engine(replace(EngineConfig(), fs=FS))
    blocks, events = [], []
    for packet in arrivals:
        for block in assemblers[packet.side].feed(packet):
            blocks.append(block)
            events += engine.feed(block)
    events += engine.flush()
    stats = {side: a.stats for side, a in assemblers.items()}
    return Run(blocks, true_t, stats, movements(events))


@cache
def _baseline() -> Run:
    return _run(_clean)


def _check_stream(run: Run, max_error: float) -> None:
    """Every sample delivered, session time strictly increasing, near the truth."""
    for side in Side:
        own = [b for b in run.blocks if b.side is side]
        for block in own:
            assert np.all(np.diff(block.t) > 0)
        t = np.concatenate([b.t for b in own])
        assert np.all(np.diff(t) > 0), f"{side}: session time went back"
        assert len(t) == len(run.true_t[side]), f"{side}: samples dropped"
        assert run.stats[side].lost <= 2
        error = np.abs(t - run.true_t[side])
        assert error.max() < max_error, f"{side}: {error.max():.3f} s from the true times"


def _check_events(run: Run) -> None:
    """Durations, lags and latencies >= 0; the clean stream's movements all found."""
    for e in run.events:
        assert e.t_offset is None or e.t_offset >= e.t_onset
        assert e.lag_ms is None or e.lag_ms >= 0
        assert e.detected_at >= e.t_onset
        assert e.decided_at >= e.detected_at
    want = [(e.active, e.t_onset) for e in _baseline().events]
    got = [(e.active, e.t_onset) for e in run.events]
    assert len(want) >= 5
    assert any(t > AT + 10 for _, t in want)
    for side, onset in want:
        assert any(s is side and abs(t - onset) < 0.1 for s, t in got), (side, onset)


def _counts(s: AssemblerStats) -> tuple[int, int, int, int]:
    return s.resets, s.clock_back, s.clock_forward, s.stalled


def test_clean_stream_counts_nothing() -> None:
    run = _baseline()
    _check_stream(run, 0.015)
    _check_events(run)
    assert all(_counts(s) == (0, 0, 0, 0) for s in run.stats.values())


@pytest.mark.parametrize(
    ("name", "fault", "counts"),
    [
        ("jump back 2 s", _back, (1, 1, 0, 0)),
        ("reboot, flagged", _reboot(flag=True), (1, 0, 0, 0)),
        ("reboot, no flag", _reboot(flag=False), (1, 1, 0, 0)),
        ("jump ahead 60 s", _ahead, (1, 0, 1, 0)),
    ],
)
def test_jump_or_reset_starts_a_new_epoch_on_arrival_and_keeps_the_data(
    name: str, fault: Fault, counts: tuple[int, int, int, int]
) -> None:
    run = _run(fault)
    assert _counts(run.stats[Side.R]) == counts, name
    assert _counts(run.stats[Side.L]) == (0, 0, 0, 0)
    _check_stream(run, 0.015)
    _check_events(run)


def test_reboot_without_flag_soon_after_power_on_is_not_taken_for_late_copies() -> None:
    # seq was 30 when the sensor rebooted: seq 0..29 again look 30..1 packets late
    run = _run(_reboot(flag=False, seq_at=30 - round(AT * FS / N)))
    s = run.stats[Side.R]
    assert (s.out_of_order, _counts(s)) == (0, (1, 1, 0, 0))
    _check_stream(run, 0.015)
    _check_events(run)


def test_stalled_tick_timed_from_the_samples() -> None:
    run = _run(_stall(resume_frozen=False))
    assert _counts(run.stats[Side.R]) == (0, 0, 0, round(10 * FS / N) - 1)
    _check_stream(run, 0.015)
    _check_events(run)


def test_stalled_then_paused_counter_resumes_in_a_new_epoch() -> None:
    run = _run(_stall(resume_frozen=True))
    assert _counts(run.stats[Side.R]) == (1, 1, 0, round(10 * FS / N) - 1)
    _check_stream(run, 0.015)
    _check_events(run)
