"""Filters: carried state equals one whole-array scipy call; envelope split invariance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal

from pipeline.engine.align import Row
from pipeline.engine.config import EngineConfig
from pipeline.engine.filters import ActivityEnvelope, Biquad3
from sensors.types import FloatArray


def _splits(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    cuts = np.sort(rng.choice(np.arange(1, n), size=n // 7, replace=False))
    return list(itertools.pairwise([0, *cuts.tolist(), n]))


@pytest.mark.parametrize("btype", ["lowpass", "highpass"])
def test_biquad_in_pieces_equals_sosfilt_on_whole(btype: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 3)) + 5.0
    sos = signal.butter(2, 12.0, btype=btype, fs=100.0, output="sos")
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    expected, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    f = Biquad3(np.asarray(sos))
    rows = [(a, b, c) for a, b, c in x.tolist()]
    pieces = [f.feed(rows[a:b]) for a, b in _splits(500, rng)]
    np.testing.assert_allclose(np.vstack(pieces), expected, rtol=1e-10, atol=1e-12)


def test_biquad_seeded_start_has_no_transient() -> None:
    sos = np.asarray(signal.butter(2, 12.0, fs=100.0, output="sos"))
    y = Biquad3(sos).feed([(0.1, -0.2, 9.81)] * 50)
    np.testing.assert_allclose(np.array(y), [[0.1, -0.2, 9.81]] * 50, atol=1e-9)


def test_biquad_refuses_more_than_one_section() -> None:
    with pytest.raises(ValueError, match="one second-order section"):
        Biquad3(np.asarray(signal.butter(4, 12.0, fs=100.0, output="sos")))


def _rows(acc: np.ndarray, gyr: np.ndarray, valid: np.ndarray) -> list[Row | None]:
    both = np.hstack((acc, gyr)).tolist()
    return [r if ok else None for r, ok in zip(both, valid.tolist(), strict=True)]


@pytest.mark.parametrize("gyro", [True, False])
def test_envelope_is_split_invariant_with_gaps(gyro: bool) -> None:
    rng = np.random.default_rng(2)
    n = 900
    acc = rng.normal(0, 0.03, (n, 3)) + np.array([0.0, 0.0, 9.81])
    gyr = rng.normal(0, 0.005, (n, 3)) + 0.02
    gyr[300:350, 1] += np.hanning(50) * 2.0
    valid = np.ones(n, dtype=bool)
    valid[500:540] = False
    rows = _rows(acc, gyr, valid)
    cfg = EngineConfig()
    whole, whole_slow = ActivityEnvelope(cfg, gyro).feed(0, rows)
    env = ActivityEnvelope(cfg, gyro)
    parts = [env.feed(a, rows[a:b]) for a, b in _splits(n, rng)]
    assert list(itertools.chain(*(p[0] for p in parts))) == whole  # bit for bit
    assert list(itertools.chain(*(p[1] for p in parts))) == whole_slow
    assert [v is None for v in whole] == (~valid).tolist()
    assert [v is None for v in whole_slow] == (~valid).tolist()


def _env(acc: np.ndarray, gyr: np.ndarray, gyro: bool) -> np.ndarray:
    return _envelopes(acc, gyr, gyro)[0]


def _envelopes(acc: np.ndarray, gyr: np.ndarray, gyro: bool) -> tuple[np.ndarray, np.ndarray]:
    rows = _rows(acc, gyr, np.ones(len(acc), dtype=bool))
    env, slow = ActivityEnvelope(EngineConfig(), gyro).feed(0, rows)
    return np.array(env, dtype=float), np.array(slow, dtype=float)


def test_gyro_envelope_removes_bias_and_sees_movement() -> None:
    rng = np.random.default_rng(3)
    n = 1000
    acc = rng.normal(0, 0.02, (n, 3)) + np.array([0.0, 0.0, 9.81])
    gyr = rng.normal(0, 0.004, (n, 3)) + np.array([0.05, -0.03, 0.02])  # 0.065 rad/s bias
    gyr[600:650, 2] += np.hanning(50) * 1.5
    env = _env(acc, gyr, True)
    assert np.median(env[:25]) > 0.05  # bias not yet known
    assert np.median(env[300:590]) < 0.015  # bias gone once still epochs were seen
    assert env[600:660].max() > 1.3
    assert np.median(env[750:1000]) < 0.015  # no undershoot tail after the movement


def test_gyro_envelope_starts_again_after_a_gap_without_a_transient() -> None:
    # Each section of the 4th-order low-pass must be seeded with its own steady input:
    # seeding the second with the raw rate once left 40 rad/s spikes after every gap.
    cfg = EngineConfig()
    envelope = ActivityEnvelope(cfg, True)
    row: Row = [0.0, 0.0, 9.81, 0.8, -0.5, 0.3]
    shaken: Row = [0.0, 0.0, 11.81, 0.8, -0.5, 0.3]  # a moving wrist: no bias is learnt
    moving: list[Row | None] = [row, shaken] * 15
    rows = moving + [None] * 20 + moving
    env = np.array([np.nan if v is None else v for v in envelope.feed(0, rows)[0]])
    np.testing.assert_allclose(env[30:50], np.nan)
    np.testing.assert_allclose(env[~np.isnan(env)], np.linalg.norm(row[3:]), rtol=1e-9)


def test_acc_envelope_reads_rotation_without_gravity_estimate() -> None:
    fs, n = 100.0, 600
    t = np.arange(n) / fs
    angle = np.where(t > 3.0, np.minimum((t - 3.0) / 0.5, 1.0), 0.0)  # 1 rad tilt at 2 rad/s
    acc = np.column_stack((9.81 * np.sin(angle), np.zeros(n), 9.81 * np.cos(angle)))
    env = _env(acc, np.zeros((n, 3)), False)
    assert env[:290].max() < 1e-6
    assert 1.5 < env[300:360].max() < 2.5
    assert env[450:].max() < 0.05  # a new orientation leaves no residue (1 s on)


def test_slow_envelope_keeps_a_reach_and_drops_a_tremor_burst() -> None:
    # A burst of 6.8 Hz tremor (as on the PADS tremor hand, 0.8 rad/s rms) and a 0.6 s
    # reach reach the same envelope peak; only the reach moves the slow envelope.
    fs, n = 100.0, 600
    t = np.arange(n) / fs
    acc = np.tile([0.0, 0.0, 9.81], (n, 1))
    tremor, reach = np.zeros((n, 3)), np.zeros((n, 3))
    burst = (t >= 2.0) & (t < 3.0)
    tremor[burst, 0] = 3.0 * np.sin(2 * np.pi * 6.8 * t[burst]) * np.hanning(burst.sum())
    moving = (t >= 2.0) & (t < 2.6)
    reach[moving, 0] = np.hanning(moving.sum())
    env_t, slow_t = _envelopes(acc, tremor, True)
    env_r, slow_r = _envelopes(acc, reach, True)
    assert env_t.max() == pytest.approx(env_r.max(), rel=0.3)
    assert slow_r.max() > 0.6 * env_r.max()
    assert slow_t.max() < 0.15 * env_t.max()


def test_jerk_envelope_drops_tremor_and_its_slow_one_keeps_a_tilt() -> None:
    # Without a gyro: gravity tilted 0.15 rad over 0.6 s and back, against bursts of
    # tremor shaking it. The 2.5 Hz low-pass keeps a 6.8 Hz burst as large as the
    # tilt's rotation far under the tilt's jerk envelope; a 5 Hz burst strong enough to
    # come near it still hardly moves the slow envelope, which the tilt does.
    fs, n = 100.0, 600
    t = np.arange(n) / fs
    burst = (t >= 2.0) & (t < 3.0)
    moving = (t >= 2.0) & (t < 2.6)
    tilted = np.zeros(n)
    tilted[moving] = 0.15 * np.hanning(moving.sum())

    def envelopes(angle: FloatArray) -> tuple[FloatArray, FloatArray]:
        acc = np.column_stack((9.81 * np.sin(angle), np.zeros(n), 9.81 * np.cos(angle)))
        return _envelopes(acc, np.zeros((n, 3)), False)

    def shaken(hz: float, amplitude: float) -> FloatArray:
        angle = np.zeros(n)
        angle[burst] = amplitude * np.sin(2 * np.pi * hz * t[burst]) * np.hanning(burst.sum())
        return angle

    env_r, slow_r = envelopes(tilted)
    assert slow_r.max() > 0.6 * env_r.max()
    env_fast, _ = envelopes(shaken(6.8, 0.07))
    assert env_fast.max() < 0.1 * env_r.max()
    env_t, slow_t = envelopes(shaken(5.0, 0.25))
    assert env_t.max() > 0.6 * env_r.max()
    assert slow_t.max() < 0.25 * env_t.max()
