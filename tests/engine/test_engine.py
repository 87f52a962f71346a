"""The engine against the simulator: streaming equals batch, and detection quality."""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections.abc import Iterator

import numpy as np
import pytest

from pipeline.engine import Engine, movements
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Event, Kind, MovementEvent, Onset
from pipeline.evaluation import score
from sensors.simulated import SimConfig, Simulation, simulate
from sensors.types import FloatArray, ImuBlock, Side


def _whole(sim: Simulation) -> dict[Side, ImuBlock]:
    parts: dict[Side, list[ImuBlock]] = {Side.L: [], Side.R: []}
    for b in sim.blocks():
        parts[b.side].append(b)
    out = {}
    for side, blocks in parts.items():
        gyr = None if blocks[0].gyr is None else np.vstack([b.gyr for b in blocks])  # type: ignore[misc]
        out[side] = ImuBlock(
            side=side,
            t=np.concatenate([b.t for b in blocks]),
            acc=np.vstack([b.acc for b in blocks]),
            gyr=gyr,
        )
    return out


def _interleaved(whole: dict[Side, ImuBlock], cuts: Iterator[int]) -> Iterator[ImuBlock]:
    """Both sides cut at the same sample counts, alternating, as a live stream would."""
    n = min(len(b) for b in whole.values())
    start = 0
    while start < n:
        stop = min(start + next(cuts), n)
        for side in Side:
            yield whole[side].slice(start, stop)
        start = stop


def _run(engine: Engine, blocks: Iterator[ImuBlock] | list[ImuBlock]) -> list[Event]:
    out: list[Event] = []
    for b in blocks:
        out.extend(engine.feed(b))
    return out + engine.flush()


def _as_lines(events: list[Event]) -> list[str]:
    return [e.to_json() if not isinstance(e, Onset) else repr(e) for e in events]


@pytest.fixture(scope="module")
def drill() -> Simulation:
    return simulate("firearm-drill", SimConfig(duration=150.0, seed=3))


def test_streaming_equals_batch(drill: Simulation) -> None:
    whole = _whole(drill)
    n = min(len(b) for b in whole.values())
    whole = {s: b.slice(0, n) for s, b in whole.items()}
    rng = np.random.default_rng(11)
    fours = _run(Engine(), _interleaved(whole, iter(lambda: 4, None)))
    singles = _run(Engine(), _interleaved(whole, iter(lambda: 1, None)))
    random = _run(Engine(), _interleaved(whole, iter(lambda: int(rng.integers(1, 40)), None)))
    offline = Engine(dataclasses.replace(EngineConfig(), max_wait=math.inf))
    batch = _run(offline, [whole[Side.L], whole[Side.R]])
    reference = _as_lines(fours)
    assert len(movements(fours)) > 20
    assert _as_lines(singles) == reference
    assert _as_lines(random) == reference
    assert _as_lines(batch) == reference


def test_events_carry_every_field_and_causal_times(drill: Simulation) -> None:
    events = movements(_run(Engine(), drill.blocks()))
    for e in events:
        d = e.to_json_dict()
        assert list(d) == [
            "type", "t_onset", "t_offset", "active", "kind", "mirror_ratio", "lag_ms",
            "coupling", "grade", "peak_active", "peak_contra", "completeness",
            "detected_at", "decided_at", "task",
        ]  # fmt: skip
        assert e.t_onset <= e.detected_at <= e.decided_at
        assert 0 <= e.grade <= 4
        assert (e.kind is Kind.MIRROR) == (e.grade > 0)
        assert e.lag_ms is None or -300 <= e.lag_ms <= 300


@pytest.mark.parametrize("scenario", ["firearm-drill", "healthy", "mirror-strong"])
def test_detection_against_ground_truth(scenario: str) -> None:
    sim = simulate(scenario, SimConfig(duration=240.0, seed=5))
    events = movements(_run(Engine(), sim.blocks()))
    s = score(sim.truth, events, sim.duration, sim.common_mode)
    assert s.recall >= 0.95, s.summary()
    assert s.false_per_min <= 1.0, s.summary()
    assert abs(statistics.median(s.onset_errors_ms())) <= 30, s.summary()
    # The tremor-rejecting 4th-order 5 Hz low-pass delays the envelope by about 85 ms
    # and real rest's onset floor adds the rise to 0.25 rad/s: 80 ms is out of reach.
    assert statistics.median(s.latencies_ms()) <= 160, s.summary()
    called, total = s.false_mirror()
    # The simulator's rest is calibrated to real wrists: a fidget of the other hand
    # during a movement reads as its copy, 3 of 20 in the firearm drill of this seed
    # (1.4 % of unimanual trials on real rest, benchmarks/real_accuracy.py).
    assert called <= max(3, 0.05 * total), s.summary()
    hits, n = s.mirror_sensitivity(0.2, 0.6)
    assert n == 0 or hits / n >= 0.9, s.summary()
    hits, n = s.bimanual_accuracy()
    assert n == 0 or hits / n >= 0.8, s.summary()


def test_accelerometer_only_still_finds_movements() -> None:
    sim = simulate("healthy", SimConfig(duration=240.0, seed=6, gyro=False))
    s = score(sim.truth, movements(_run(Engine(), sim.blocks())), sim.duration)
    assert s.recall >= 0.8, s.summary()
    assert s.false_per_min <= 2.0, s.summary()


def test_a_silent_other_side_makes_events_indeterminate(drill: Simulation) -> None:
    blocks = [b for b in drill.blocks() if not (b.side is Side.L and 40.0 < b.t[0] < 100.0)]
    events = movements(_run(Engine(), blocks))
    in_gap = [e for e in events if e.active is Side.R and 42.0 < e.t_onset < 98.0]
    assert in_gap, "the right hand moves during the left side's outage"
    assert all(e.kind is Kind.INDETERMINATE for e in in_gap)
    assert all(e.completeness[Side.L] < 0.8 for e in in_gap)


def test_a_stream_that_ends_early_on_one_side_still_flushes_every_movement() -> None:
    """A session stopped while one wrist's last blocks are still in flight: the movements
    around the end compare hands over unequal spans, which must not warn or raise."""
    whole = _whole(simulate("firearm-drill", SimConfig(duration=40.0, seed=3)))
    n = min(len(b) for b in whole.values())
    onsets = [
        round(e.t_onset * EngineConfig().fs)
        for e in movements(_run(Engine(), _interleaved(whole, iter(lambda: 25, None))))
    ]
    assert len(onsets) >= 2
    for end in (o + k for o in onsets for k in (5, 20, 40, 60) if o + k <= n):
        for short in Side:
            cut = {s: b.slice(0, end - 60 if s is short else end) for s, b in whole.items()}
            blocks = [b.slice(i, i + 25) for b in cut.values() for i in range(0, len(b), 25)]
            blocks.sort(key=lambda b: float(b.t[-1]))
            found = movements(_run(Engine(), blocks))
            assert len(found) >= sum(o < end - 160 for o in onsets), (end, short)


def test_memory_is_bounded_by_the_look_back() -> None:
    engine = Engine()
    sim = simulate("home-day", SimConfig(duration=900.0, seed=1))
    for b in sim.blocks():
        engine.feed(b)
    for buf in engine._aligner._buffers.values():
        assert len(buf.t) < 50
    assert len(engine._mirror._pending) < 5
    assert len(engine._mirror._recent) < 50


def test_a_task_with_a_known_active_hand_grades_strong_copies_as_mirror() -> None:
    sim = simulate("mirror-strong", SimConfig(duration=240.0, seed=8))
    engine = Engine()
    tasks = [(m.onset - 0.5, m) for m in sim.truth]
    events: list[Event] = []
    for b in sim.blocks():
        while tasks and tasks[0][0] <= b.t[0]:
            start, m = tasks.pop(0)
            active = None if m.kind == "bimanual" else m.side
            engine.set_task(f"move-{m.side.value}", active, start)
        events.extend(engine.feed(b))
    s = score(sim.truth, movements(events + engine.flush()), sim.duration)
    strong = [m for m in s.matches if m.truth.kind == "mirror" and m.truth.ratio >= 0.6]
    assert len(strong) >= 5
    assert all(m.event.kind is Kind.MIRROR for m in strong)
    assert all(m.event.active is m.truth.side for m in strong)
    assert all(m.event.grade >= 3 for m in strong)
    assert all(m.event.task == f"move-{m.truth.side.value}" for m in s.matches)
    hits, n = s.bimanual_accuracy()
    assert hits == n  # a task for both hands keeps bimanual movements bimanual


def test_free_mode_tells_a_late_strong_copy_from_a_bimanual_movement() -> None:
    # Without a task, a strong copy differs from an intended two-handed movement by
    # its onset: it follows the active hand, where both hands of a bimanual start together.
    sim = simulate("mirror-strong", SimConfig(duration=240.0, seed=8))
    s = score(sim.truth, movements(_run(Engine(), sim.blocks())), sim.duration)
    late = [m for m in s.matches if m.truth.kind == "mirror" and m.truth.ratio >= 0.6]
    late = [m for m in late if m.truth.lag >= 0.1]
    assert len(late) >= 5
    assert sum(m.event.kind is Kind.MIRROR for m in late) >= 0.9 * len(late)
    assert all(
        m.event.lag_ms is not None and m.event.lag_ms >= 70
        for m in late
        if m.event.kind is Kind.MIRROR
    )
    both = simulate("healthy", SimConfig(duration=240.0, seed=5))
    b = score(both.truth, movements(_run(Engine(), both.blocks())), both.duration)
    hits, n = b.bimanual_accuracy()
    assert n >= 5
    assert hits >= 0.9 * n, b.summary()


def test_reset_forgets_everything(drill: Simulation) -> None:
    engine = Engine()
    first = _run(engine, drill.blocks())
    engine.reset()
    assert _as_lines(_run(engine, drill.blocks())) == _as_lines(first)
    assert _as_lines(first) == _as_lines(_run(Engine(), drill.blocks()))


def _bell(t: FloatArray, start: float, length: float) -> FloatArray:
    """A minimum-jerk speed profile from `start`, `length` s long, peak 1."""
    x = np.clip((t - start) / length, 0.0, 1.0)
    return 16.0 * (x * (1.0 - x)) ** 2


class _Wrists:
    """Two resting wrists at 100 Hz, `seconds` long: movements are added to `gyr`."""

    def __init__(self, seconds: float, seed: int) -> None:
        self.t = np.arange(round(seconds * 100.0)) / 100.0
        self._rng = np.random.default_rng(seed)
        self.gyr = {s: self._rng.normal(0.0, 0.01, (len(self.t), 3)) for s in Side}

    def events(self) -> list[MovementEvent]:
        """The engine's movement events, both wrists streamed in 10-sample packets."""
        n = len(self.t)
        acc = {
            s: np.tile([0.0, 0.0, 9.81], (n, 1)) + self._rng.normal(0.0, 0.02, (n, 3)) for s in Side
        }
        whole = {s: ImuBlock(side=s, t=self.t, acc=acc[s], gyr=self.gyr[s]) for s in Side}
        return movements(_run(Engine(), _interleaved(whole, itertools.repeat(10))))


def test_both_hands_starting_together_on_different_movements_are_bimanual() -> None:
    # A reach of the left hand and, begun 20 ms later, three quick weaker turns of the
    # right: no copy of each other's shape, both on purpose. That is one bimanual
    # movement, not two unimanual ones.
    w = _Wrists(20.0, 3)
    w.gyr[Side.L][:, 0] += 3.0 * _bell(w.t, 10.0, 0.8)
    w.gyr[Side.R][:, 1] += 1.6 * (
        _bell(w.t, 10.02, 0.3) - _bell(w.t, 10.32, 0.3) + _bell(w.t, 10.62, 0.3)
    )
    events = w.events()
    assert [(e.kind, round(e.t_onset, 1)) for e in events] == [(Kind.BIMANUAL, 10.0)]
    assert 0.4 < events[0].mirror_ratio < 0.7


@pytest.mark.parametrize("lead", [0.12, 0.2])
def test_a_weaker_movement_leading_the_other_hand_is_no_mirror_of_it(lead: float) -> None:
    # The left hand moves weakly, then the right strongly, `lead` s later with the same
    # shape. A mirror follows its movement: neither is a copy of the other, and no
    # event may call the stronger hand a mirror at a ratio above 1.
    w = _Wrists(20.0, 4)
    w.gyr[Side.R][:, 0] += 3.0 * _bell(w.t, 10.0, 0.8)
    w.gyr[Side.L][:, 0] += 0.9 * _bell(w.t, 10.0 - lead, 0.8)
    events = w.events()
    assert sorted((e.active, e.kind) for e in events) == [
        (Side.L, Kind.UNIMANUAL),
        (Side.R, Kind.UNIMANUAL),
    ]


def test_a_movement_begins_before_the_pause_between_its_sub_movements() -> None:
    # Both hands start together at 10 s; the right opens with a small turn one way, then
    # turns the other way in earnest. Its speed dips to nothing for a few rows between
    # the two: a pause inside the movement, not its start, so the hands' lag is ~0.
    w = _Wrists(20.0, 5)
    w.gyr[Side.L][:, 0] += 2.0 * _bell(w.t, 10.0, 0.7)
    w.gyr[Side.R][:, 1] += 0.4 * _bell(w.t, 10.0, 0.16) - 1.6 * _bell(w.t, 10.12, 0.5)
    events = w.events()
    assert [(e.kind, round(e.t_onset, 1)) for e in events] == [(Kind.BIMANUAL, 10.0)]
    lag = events[0].lag_ms
    assert lag is not None
    assert abs(lag) <= 50.0


def test_a_tremor_burst_does_not_swallow_the_movement_that_follows() -> None:
    # The left hand shakes at 6.8 Hz from 8 s (a parkinsonian rest tremor, waxing and
    # waning) and reaches at 15 s. The tremor keeps the envelope over the onset
    # threshold, but never turns the hand one way: it must not run on as one
    # movement and take the reach into it.
    w = _Wrists(30.0, 6)
    tremor = np.clip((w.t - 8.0) / 2.0, 0.0, 1.0) * np.clip((22.0 - w.t) / 2.0, 0.0, 1.0)
    tremor *= 2.0 * np.sin(2 * np.pi * 6.8 * w.t) * (1.0 + 0.5 * np.sin(2 * np.pi * 0.7 * w.t))
    w.gyr[Side.L][:, 1] += tremor
    w.gyr[Side.L][:, 0] += 2.5 * _bell(w.t, 15.0, 0.8)
    events = w.events()
    assert [(e.active, e.kind) for e in events] == [(Side.L, Kind.UNIMANUAL)]
    assert 14.5 < events[0].t_onset < 15.2


@pytest.mark.parametrize(("seed", "activity"), [(29, "eating"), (16, "dressing")])
def test_continuous_two_handed_activity_is_a_bout_not_a_stream_of_mirrors(
    seed: int, activity: str
) -> None:
    # A day at home: minutes of both hands busy, one movement after another. Either
    # hand moves within a quarter second of any movement of the other about as often
    # as not; that is no copy. Without bouts: 58-62 events and 12-25 mirror events a
    # minute of such activity.
    sim = simulate("home-day", SimConfig(duration=900.0, seed=seed))
    assert [b.label for b in sim.bouts] == [activity]
    s = score(sim.truth, movements(_run(Engine(), sim.blocks())), sim.duration, (), sim.bouts)
    assert s.bout_mirrors() <= 2, s.summary()
    assert s.bout_events_per_min <= 10.0, s.bout_events_per_min
    assert s.recall >= 0.95, s.summary()
