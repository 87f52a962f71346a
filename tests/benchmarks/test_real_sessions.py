"""Sessions built from real two-wrist recordings: their ground truth, and the engine on them.

These read the PADS recordings from ../shared/data/pads and skip, naming the folder,
where they are absent.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.acc_ratio_limit import estimates
from benchmarks.real_accuracy import TUNE_SUBJECTS, sessions
from benchmarks.real_bouts import bout_session
from benchmarks.real_rest import rest_session
from benchmarks.real_sessions import (
    DEFAULT_DATA,
    FS,
    Recording,
    Trial,
    build,
    recordings,
    speed,
    stretches,
)
from pipeline.engine import Engine, movements
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Kind
from pipeline.evaluation import score
from sensors.types import Side

pytestmark = pytest.mark.skipif(
    not DEFAULT_DATA.is_dir(), reason=f"no real recordings at {DEFAULT_DATA}"
)


@pytest.fixture(scope="module")
def recs() -> list[Recording]:
    return recordings(DEFAULT_DATA)


def test_movement_stretches_start_and_end_at_rest(recs: list[Recording]) -> None:
    found = [s for r in recs if r.task != "Relaxed" for s in stretches(r)]
    assert len(found) > 40
    for s in found:
        v = speed(s.gyr)
        assert 0 < s.onset < s.offset < len(v)
        assert v[0] < 0.05 * s.peak
        assert v[-1] < 0.05 * s.peak
        assert s.peak >= 0.8


def test_mirror_copies_have_the_ratio_and_lag_the_truth_says(recs: list[Recording]) -> None:
    rest = next(r for r in recs if r.task == "Relaxed" and r.subject == "172")
    moves = [s for r in recs if r.subject == "130" for s in stretches(r)]
    trials = [Trial("mirror", Side.R, ratio) for ratio in (0.05, 0.1, 0.2, 0.35)]
    session = build("t", rest, moves, "recorded", 7, trials)
    quiet = build("t", rest, moves, "recorded", 7, [])
    for t, trial in zip(session.truth, trials, strict=True):
        assert t.kind == "mirror"
        assert t.side is Side.R
        assert t.ratio == pytest.approx(trial.ratio, rel=0.05)
        assert 0.02 <= t.lag <= 0.12
    # outside the trials both wrists hold the subject's real rest, continuous at the
    # palindrome's turns
    for side in Side:
        jumps = np.abs(np.diff(quiet.gyr[side], axis=0)).max()
        assert jumps < 0.5


def test_gravity_is_added_back_along_the_wrist_orientation(recs: list[Recording]) -> None:
    rest = next(r for r in recs if r.task == "Relaxed" and r.subject == "172")
    moves = [s for r in recs if r.subject == "130" for s in stretches(r)]
    trials = [Trial("unimanual", Side.L, 0.0)]
    plain = build("t", rest, moves, "recorded", 3, trials)
    tilted = build("t", rest, moves, "gravity", 3, trials)
    g = tilted.acc[Side.L] - plain.acc[Side.L]
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 9.80665, rtol=1e-6)
    turned = np.degrees(np.arccos(np.clip(g @ g[0] / 9.80665**2, -1.0, 1.0)))
    assert turned.max() > 20.0  # the real movement turns gravity in the sensor frame
    assert turned[: int(5 * FS)].max() < 5.0  # rest only sways it


def test_the_engine_holds_on_held_out_real_sessions() -> None:
    """Real rest of a held-out subject with real movements: every movement found, no
    unimanual one called mirror, mirror copies from ratio 0.1 found."""
    chosen = [
        s
        for s in sessions(DEFAULT_DATA, tune=False, seeds=(1,))
        if s.variant == "recorded" and s.name.split("/")[0] not in TUNE_SUBJECTS
    ]
    assert chosen
    for session in chosen:
        engine = Engine()
        events = movements([e for b in session.blocks() for e in engine.feed(b)] + engine.flush())
        s = score(session.truth, events, session.duration)
        assert s.recall >= 0.9, (session.name, s.summary())
        assert s.false_mirror()[0] == 0, (session.name, s.summary())
        hit, n = s.mirror_sensitivity(0.08, 1.0)
        assert hit >= 0.9 * n, (session.name, s.summary())
        assert all(e.kind is not Kind.INDETERMINATE for e in events)


def test_rest_sessions_hold_only_rest_and_the_accelerometer_feels_gravity(
    recs: list[Recording],
) -> None:
    rest = next(r for r in recs if r.task == "Relaxed" and r.subject == "172")
    gyro = rest_session(rest, "recorded", 1.0, 3)
    acc = rest_session(rest, "acc-only", 1.0, 3)
    assert gyro.truth == acc.truth == []
    assert gyro.duration == acc.duration == 60.0
    assert np.array_equal(gyro.gyr[Side.L], acc.gyr[Side.L])  # the same stretch of rest
    assert np.median(np.linalg.norm(gyro.acc[Side.L], axis=1)) < 1.0  # as recorded
    assert np.median(np.linalg.norm(acc.acc[Side.L], axis=1)) == pytest.approx(9.81, abs=0.3)
    assert all(b.gyr is None for b in acc.blocks())


def test_accelerometer_ratio_limit_is_orientation_not_the_copy(recs: list[Recording]) -> None:
    # Without gravity the copy's jerk scales with the copy; with gravity turned along
    # each wrist's own resting tilt, how the wrist is held decides half of it.
    found = estimates(DEFAULT_DATA)
    no_gravity = np.abs(np.asarray(found["no gravity"]) - 1.0)
    with_gravity = np.abs(np.asarray(found["gravity"]) - 1.0)
    assert np.median(no_gravity) < 0.1
    assert np.median(with_gravity) > 2 * np.median(no_gravity)


@pytest.mark.parametrize("hands", [1, 2])
def test_bout_sessions_keep_real_movements_to_the_busy_hands_and_the_bout(
    recs: list[Recording], hands: int
) -> None:
    rest = next(r for r in recs if r.task == "Relaxed" and r.subject == "172")
    assert max(speed(rest.gyr[s]).max() for s in Side) < 0.1  # a calm rest
    moves = [s for r in recs if r.subject == "130" for s in stretches(r)]
    session, (a, b) = bout_session(rest, moves, "recorded", hands, 1.0, 5)
    inside = slice(int(a * FS), int(b * FS))
    busy = [s for s in Side if speed(session.gyr[s][inside]).max() > 0.8]
    assert len(busy) == hands
    for s in Side:
        v = speed(session.gyr[s])
        assert v[: inside.start].max() < 0.1  # rest before the bout
        assert v[inside.stop :].max() < 0.1  # and after it
        if s in busy:  # one movement after another: the hand is seldom still
            assert np.mean(v[inside] > 0.1) > 0.5
        else:
            assert v[inside].max() < 0.1
    assert session.truth == []


def test_every_mirror_lag_is_a_measurement(recs: list[Recording]) -> None:
    # A copy follows its movement, within the lag window: one leading by more than
    # 30 ms, or at the window's edge and beyond, is no measured lag. Real sessions of
    # the held-out subjects and one-handed real bouts (the resting hand's fidgets
    # beside a busy hand) gave both before.
    cfg = EngineConfig()
    found = [e for s in sessions(DEFAULT_DATA, False, (1,)) for e in s.engine_events(cfg)]
    moves = [s for r in recs if r.task != "Relaxed" for s in stretches(r)]
    for rest in (r for r in recs if r.task == "Relaxed"):
        found += bout_session(rest, moves, "recorded", 1, 2.0, 1)[0].engine_events(cfg)
    lags = [e.lag_ms if e.lag_ms is not None else math.nan for e in found if e.kind is Kind.MIRROR]
    assert len(lags) > 20
    assert all(-30.0 <= lag < 250.0 for lag in lags), sorted(lags)
