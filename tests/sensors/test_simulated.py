"""Tests of the simulated wrists: delivery (order, loss, jitter), physics, scenarios."""

from __future__ import annotations

import asyncio
import itertools
import math
import tracemalloc
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest

from sensors.scenarios import BOUT_ACTIVITIES, FIREARM_TASKS, plan
from sensors.simulated import (
    SCENARIOS,
    SimConfig,
    SimulatedSource,
    Simulation,
    TruthMovement,
    simulate,
)
from sensors.types import FloatArray, ImuBlock, Side

# reflection through the sagittal plane, for angular velocity in the sensor frames
AXIAL_MIRROR = np.array([-1.0, 1.0, -1.0])


def by_side(blocks: list[ImuBlock]) -> dict[Side, list[ImuBlock]]:
    out: dict[Side, list[ImuBlock]] = defaultdict(list)
    for b in blocks:
        out[b.side].append(b)
    return out


def joined(blocks: list[ImuBlock]) -> tuple[FloatArray, FloatArray, FloatArray]:
    gyr = [b.gyr for b in blocks if b.gyr is not None]
    return (
        np.concatenate([b.t for b in blocks]),
        np.concatenate([b.acc for b in blocks]),
        np.concatenate(gyr),
    )


def render_blocks(blocks: list[ImuBlock]) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
    """Each side's (t, acc, gyr), left wrist first."""
    sides = by_side(blocks)
    return [joined(sides[side]) for side in Side]


def render(sim: Simulation) -> dict[Side, tuple[FloatArray, FloatArray, FloatArray]]:
    return {side: joined(bl) for side, bl in by_side(list(sim.blocks())).items()}


@pytest.fixture(scope="module")
def mirror_session() -> tuple[Simulation, dict[Side, tuple[FloatArray, FloatArray, FloatArray]]]:
    sim = simulate("mirror-strong", SimConfig(duration=240.0, seed=3))
    return sim, render(sim)


def test_unknown_scenario_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="firearm-drill") as err:
        simulate("juggling")
    assert all(name in str(err.value) for name in SCENARIOS)


@pytest.mark.parametrize(
    "kwargs",
    [{"fs": 0.0}, {"duration": -1.0}, {"loss_rate": 1.0}, {"jitter": -0.1}, {"block_size": 0}],
)
def test_config_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        SimConfig(**kwargs)


def test_same_seed_same_blocks_other_seed_other_blocks() -> None:
    def session(seed: int) -> Simulation:
        return simulate("healthy", SimConfig(duration=25.0, seed=seed, loss_rate=0.05))

    sim = session(7)
    a, b, c = list(sim.blocks()), list(sim.blocks()), list(session(8).blocks())
    assert session(7).truth == sim.truth != session(8).truth
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert (x.side, x.seq, x.lost) == (y.side, y.seq, y.lost)
        np.testing.assert_array_equal(x.t, y.t)
        np.testing.assert_array_equal(x.acc, y.acc)
        np.testing.assert_array_equal(x.gyr, y.gyr)
    for seven, eight in zip(render_blocks(a), render_blocks(c), strict=True):
        assert not np.array_equal(seven[1][:100], eight[1][:100])
        assert not np.array_equal(seven[2][:100], eight[2][:100])


def test_blocks_ordered_by_arrival_and_time_increases_per_side() -> None:
    cfg = SimConfig(duration=30.0, jitter=0.004, block_size=5)
    blocks = list(simulate("healthy", cfg).blocks())
    last = [float(b.t[-1]) for b in blocks]
    assert last == sorted(last)
    sides = by_side(blocks)
    assert set(sides) == {Side.L, Side.R}
    for side_blocks in sides.values():
        t = joined(side_blocks)[0]
        assert len(t) == 3000
        assert np.all(np.diff(t) > 0)
        # the jitter is there: intervals are not all 10 ms
        assert np.std(np.diff(t)) > 0.002
        assert all(len(b) == 5 for b in side_blocks)


def test_lost_counts_equal_dropped_samples() -> None:
    fs, bs, n = 100.0, 5, 6000
    sim = simulate("healthy", SimConfig(duration=n / fs, loss_rate=0.2, block_size=bs))
    for side_blocks in by_side(list(sim.blocks())).values():
        prev: ImuBlock | None = None
        for b in side_blocks:
            if prev is None:
                assert b.lost == b.seq * bs
            else:
                # no jitter: the gap between delivered samples is exactly the lost ones
                assert round((b.t[0] - prev.t[-1]) * fs) - 1 == b.lost
                assert (b.seq - prev.seq - 1) * bs == b.lost
            prev = b
        assert prev is not None
        delivered = sum(len(b) for b in side_blocks)
        lost = sum(b.lost for b in side_blocks)
        trailing = n - (prev.seq * bs + len(prev))
        assert delivered + lost + trailing == n
        assert 0.15 < (lost + trailing) / n < 0.25


def test_accelerometer_only_sensors() -> None:
    with_gyro = list(simulate("healthy", SimConfig(duration=12.0)).blocks())
    acc_only = list(simulate("healthy", SimConfig(duration=12.0, gyro=False)).blocks())
    assert all(b.gyr is None and not b.has_gyro for b in acc_only)
    # the accelerometer draws do not depend on whether the gyro exists
    for x, y in zip(with_gyro, acc_only, strict=True):
        np.testing.assert_array_equal(x.acc, y.acc)


@pytest.mark.parametrize(("gravity", "expected"), [(True, 9.81), (False, 0.0)])
def test_resting_wrists_measure_gravity_or_nothing(gravity: bool, expected: float) -> None:
    sim = simulate("healthy", SimConfig(duration=9.0, gravity=gravity))
    assert not sim.truth  # the scenario starts with 10 s of rest
    for t, acc, gyr in render(sim).values():
        assert len(t) == 900
        assert abs(float(np.mean(np.linalg.norm(acc, axis=1))) - expected) < 0.3
        # still, by the detector's standard (rms angular rate about the bias < 0.03 rad/s)
        assert float(np.max(np.std(gyr, axis=0))) < 0.03


def window(
    data: tuple[FloatArray, FloatArray, FloatArray], start: float, end: float, rest: float
) -> tuple[FloatArray, FloatArray]:
    """Times and bias-free angular velocity in [start, end); bias from `rest` s before."""
    t, _, gyr = data
    bias = np.median(gyr[(t > start - rest) & (t < start - 0.1)], axis=0)
    m = (t >= start) & (t < end)
    return t[m], gyr[m] - bias


def onset_at(t: FloatArray, speed: FloatArray, fraction: float) -> float:
    """First time `speed` exceeds `fraction` of its peak, interpolated between samples."""
    level = fraction * float(np.max(speed))
    i = int(np.argmax(speed > level))
    return float(np.interp(level, speed[i - 1 : i + 1], t[i - 1 : i + 1]))


def first_lobe_direction(speed: FloatArray, omega: FloatArray) -> FloatArray:
    """Unit angular velocity where the speed first reaches 90 % of its peak."""
    i = int(np.argmax(speed > 0.9 * np.max(speed)))
    return np.asarray(omega[i] / speed[i], dtype=np.float64)


def test_mirror_copy_has_truth_ratio_lag_and_reflected_axis(
    mirror_session: tuple[Simulation, dict[Side, tuple[FloatArray, FloatArray, FloatArray]]],
) -> None:
    sim, data = mirror_session
    strong = [m for m in sim.truth if m.kind == "mirror" and m.ratio * m.peak > 0.5]
    assert len(strong) >= 10
    for m in strong:
        span = (m.onset - 0.15, m.offset + 0.6, 1.5)
        ta, ga = window(data[m.side], *span)
        tc, gc = window(data[m.side.other], *span)
        sa, sc = np.linalg.norm(ga, axis=1), np.linalg.norm(gc, axis=1)
        assert float(np.max(sa)) == pytest.approx(m.peak, rel=0.05)
        assert float(np.max(sc) / np.max(sa)) == pytest.approx(m.ratio, rel=0.2)
        # 30 %: tremor (up to 0.02 rad/s rms per axis) crosses lower levels by itself
        lag = onset_at(tc, sc, 0.3) - onset_at(ta, sa, 0.3)
        # the copy is smoothed (rises more slowly), so its 30 % point comes a little later
        assert -0.015 < lag - m.lag < 0.05
        # in its first lobe, the reflected copy turns the way the active hand turns
        da, dc = first_lobe_direction(sa, ga), first_lobe_direction(sc, gc)
        assert float(np.dot(dc * AXIAL_MIRROR, da)) > 0.95


def test_active_peaks_and_quiet_contralateral_hand(
    mirror_session: tuple[Simulation, dict[Side, tuple[FloatArray, FloatArray, FloatArray]]],
) -> None:
    sim, data = mirror_session
    for m in sim.truth:
        span = (m.onset - 0.15, m.offset + 0.6, 1.5)
        _, ga = window(data[m.side], *span)
        _, gc = window(data[m.side.other], *span)
        peak = float(np.max(np.linalg.norm(ga, axis=1)))
        other = float(np.max(np.linalg.norm(gc, axis=1)))
        assert peak == pytest.approx(m.peak, rel=0.1, abs=0.05)
        if m.kind == "unimanual":
            assert other < 0.2  # noise, tremor and the odd rest twitch only
        else:
            assert other / peak == pytest.approx(m.ratio, rel=0.25, abs=0.05)


def check_truth(truth: list[TruthMovement], duration: float) -> None:
    assert [m.onset for m in truth] == sorted(m.onset for m in truth)
    for m in truth:
        assert 0.25 <= m.offset - m.onset <= 1.5
        assert 0.3 <= m.peak <= 4.0
        assert m.offset < duration
        if m.kind == "unimanual":
            assert (m.ratio, m.lag) == (0.0, 0.0)
        elif m.kind == "bimanual":
            assert 0.7 <= m.ratio <= 1.3
            assert 0.0 <= m.lag <= 0.06
        else:
            assert m.kind == "mirror"
            assert 0.02 <= m.lag <= 0.15
    for a, b in itertools.pairwise(truth):
        assert b.onset - a.offset > 1.0  # movements are separated by rest


def test_healthy_has_no_mirror_movements() -> None:
    sim = simulate("healthy")
    check_truth(sim.truth, sim.duration)
    assert sim.duration == 600.0
    kinds = Counter(m.kind for m in sim.truth)
    assert set(kinds) == {"unimanual", "bimanual"}
    assert kinds["unimanual"] > kinds["bimanual"] > 5
    assert {m.side for m in sim.truth} == {Side.L, Side.R}
    assert all(m.task is None for m in sim.truth)
    assert not sim.common_mode


def test_mirror_strong_mostly_mirrors() -> None:
    sim = simulate("mirror-strong")
    check_truth(sim.truth, sim.duration)
    kinds = Counter(m.kind for m in sim.truth)
    assert kinds["mirror"] > 0.6 * len(sim.truth)
    mirrors = [m for m in sim.truth if m.kind == "mirror"]
    assert all(0.3 <= m.ratio <= 0.9 for m in mirrors)


def test_firearm_drill_scripted_tasks() -> None:
    sim = simulate("firearm-drill")
    check_truth(sim.truth, sim.duration)
    assert 400.0 <= sim.duration <= 450.0
    assert min(m.onset for m in sim.truth) >= 30.0  # the rest baseline comes first
    assert Counter(m.task for m in sim.truth) == dict.fromkeys(FIREARM_TASKS, 6)
    for m in sim.truth:
        assert m.task is not None
        if m.task == "bimanual":
            assert m.kind == "bimanual"
        else:
            assert m.kind in {"unimanual", "mirror"}
            assert m.side is Side(m.task[-1])
    mirrors = [m for m in sim.truth if m.kind == "mirror"]
    assert 0.3 < len(mirrors) / 60 < 0.7
    ratios = [m.ratio for m in mirrors]
    assert 0.05 <= min(ratios) < 0.2
    assert 0.45 < max(ratios) <= 0.6
    trigger = [m.peak for m in sim.truth if m.task.startswith("trigger")]  # type: ignore[union-attr]
    flex = [m.peak for m in sim.truth if m.task.startswith("wrist-flex")]  # type: ignore[union-attr]
    assert max(trigger) <= 1.2 < 1.5 <= min(flex)


def test_home_day_long_rests_walks_and_all_kinds() -> None:
    sim = simulate("home-day")
    check_truth(sim.truth, sim.duration)
    assert sim.duration == 8 * 3600.0
    assert set(Counter(m.kind for m in sim.truth)) == {"unimanual", "mirror", "bimanual"}
    walks = [i for i in sim.common_mode if i.label == "walking"]
    assert 8 <= len(walks) <= 25
    for a, b in itertools.pairwise(walks):
        assert 20 * 60 < b.start - a.end < 42 * 60  # a ride may delay the walk by 1 min
    onsets = np.array([m.onset for m in sim.truth])
    assert float(np.max(np.diff(onsets))) > 600.0  # long still periods
    for m in sim.truth:  # no voluntary movement while the body drives both wrists
        assert not any(i.start <= m.onset <= i.end for i in sim.common_mode)


def test_home_day_has_bouts_of_continuous_mostly_two_handed_activity() -> None:
    planned = plan("home-day", None, 0)
    bouts = planned.bouts
    share = sum(b.end - b.start for b in bouts) / planned.duration
    assert 0.15 < share < 0.45  # eating, typing, dressing, writing: hours of a day
    assert {b.label for b in bouts} == set(BOUT_ACTIVITIES)
    assert all(120.0 <= b.end - b.start <= 720.0 for b in bouts[:-1])  # the last may be cut
    both = 0.0
    for b in bouts:
        inside = [s for s in planned.strokes if b.start <= s.start and s.end <= b.end]
        assert not any(b.start - 5.0 < m.onset < b.end + 10.0 for m in planned.truth)
        sides = {s.side for s in inside}
        per_hand_minute = len(inside) / len(sides) / ((b.end - b.start) / 60.0)
        assert per_hand_minute > 40  # one movement after another, short pauses
        both += (b.end - b.start) * (len(sides) == 2)
    assert both > 0.6 * sum(b.end - b.start for b in bouts)  # most of it two-handed
    # hundreds of hand movements an hour, counting the bouts' and the isolated ones
    assert len(planned.strokes) / (planned.duration / 3600.0) > 300


def dominant_frequency(x: FloatArray, fs: float) -> float:
    spectrum = np.abs(np.fft.rfft(x - np.mean(x)))
    return float(np.fft.rfftfreq(len(x), 1 / fs)[np.argmax(spectrum)])


def test_walking_drops_the_arms_and_swings_them_in_anti_phase() -> None:
    planned = simulate("home-day", SimConfig(seed=5))
    walk = next(i for i in planned.common_mode if i.label == "walking")
    sim = simulate("home-day", SimConfig(seed=5, duration=walk.end + 10.0, block_size=100))
    assert sim.common_mode[0] == walk
    swing = {}
    for side, (t, acc, gyr) in render(sim).items():
        before, after = acc[t < walk.start].mean(axis=0), acc[t > walk.end].mean(axis=0)
        m = (t > walk.start + 3.0) & (t < walk.end - 3.0)
        # forearm on the table (back of the wrist up), then hanging (fingers down), then back
        assert before[2] > 8.0
        assert after[2] > 8.0
        assert acc[m, 0].mean() < -8.0
        g = gyr[m] - gyr[m].mean(axis=0)
        assert 1.0 <= float(np.max(np.linalg.norm(g, axis=1))) <= 2.6
        assert 0.75 < dominant_frequency(g[:, 2], 100.0) < 1.05
        # heel strikes and arm swing shake the wrist well beyond rest noise
        assert float(np.std(np.linalg.norm(acc[m], axis=1))) > 0.3
        swing[side] = g[:, 2]
    # anti-phase in the body is the reflection negated: z keeps its sign in the sensor frames
    assert float(np.corrcoef(swing[Side.L], swing[Side.R])[0, 1]) > 0.8


def peak_memory(sim: Simulation) -> tuple[Counter[Side], int]:
    """Samples (delivered + lost) per side, and peak traced bytes while iterating."""
    samples = Counter[Side]()
    tracemalloc.start()
    try:
        for b in sim.blocks():
            samples[b.side] += len(b) + b.lost
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return samples, peak


def test_long_session_is_generated_lazily() -> None:
    sim = simulate("home-day", SimConfig(duration=3600.0, block_size=20))
    blocks = sim.blocks()
    assert iter(blocks) is blocks
    samples = Counter[Side]()
    for b in blocks:
        samples[b.side] += len(b) + b.lost
    assert samples == {Side.L: 360_000, Side.R: 360_000}
    # memory does not grow with the length of the session
    short, peak_short = peak_memory(simulate("home-day", SimConfig(duration=60.0, block_size=100)))
    long, peak_long = peak_memory(simulate("home-day", SimConfig(duration=600.0, block_size=100)))
    assert (short[Side.R], long[Side.R]) == (6_000, 60_000)
    assert peak_long < 1.5 * peak_short + 1e5


def test_async_source_yields_the_same_blocks() -> None:
    sim = simulate("healthy", SimConfig(duration=3.0))

    async def collect(speed: float | None) -> list[ImuBlock]:
        return [b async for b in SimulatedSource(sim, speed).blocks()]

    expected = [(b.side, b.seq) for b in sim.blocks()]
    assert [(b.side, b.seq) for b in asyncio.run(collect(None))] == expected
    assert [(b.side, b.seq) for b in asyncio.run(collect(300.0))] == expected


def test_other_sample_rates() -> None:
    sim = simulate("firearm-drill", SimConfig(fs=52.0, duration=40.0, block_size=3))
    for t, acc, gyr in render(sim).values():
        assert len(t) == math.floor(40.0 * 52.0)
        assert np.allclose(np.diff(t), 1 / 52.0)
        assert np.all(np.abs(gyr) <= math.radians(2000.0))
        assert np.all(np.abs(acc) <= 16 * 9.81)
