"""Filters: carried state equals one whole-array scipy call; envelope split-invariance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal

from pipeline.align import SideChunk
from pipeline.config import EngineConfig
from pipeline.filters import ActivityEnvelope, SosFilter


def _splits(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    cuts = np.sort(rng.choice(np.arange(1, n), size=n // 7, replace=False))
    edges = [0, *cuts.tolist(), n]
    return list(itertools.pairwise(edges))


def test_sos_filter_in_pieces_equals_sosfilt_on_whole() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 3)) + 5.0
    sos = signal.butter(4, [0.5, 10.0], btype="bandpass", fs=100.0, output="sos")
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    expected, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    f = SosFilter(np.asarray(sos))
    pieces = [f.process(x[a:b]) for a, b in _splits(500, rng)]
    np.testing.assert_allclose(np.vstack(pieces), expected, rtol=1e-12, atol=1e-12)


def test_sos_filter_seeded_start_has_no_transient() -> None:
    sos = np.asarray(signal.butter(2, 12.0, fs=100.0, output="sos"))
    y = SosFilter(sos).process(np.full((50, 3), 9.81))
    np.testing.assert_allclose(y, 9.81, atol=1e-9)


def _chunk(acc: np.ndarray, gyr: np.ndarray | None, valid: np.ndarray) -> SideChunk:
    return SideChunk(acc=acc, gyr=gyr, valid=valid)


@pytest.mark.parametrize("gyro", [True, False])
def test_envelope_is_split_invariant_with_gaps(gyro: bool) -> None:
    rng = np.random.default_rng(2)
    n = 900
    acc = rng.normal(0, 0.03, (n, 3)) + np.array([0.0, 0.0, 9.81])
    gyr = rng.normal(0, 0.005, (n, 3)) + 0.02
    gyr[300:350, 1] += np.hanning(50) * 2.0
    valid = np.ones(n, dtype=bool)
    valid[500:540] = False
    acc[~valid] = np.nan
    gyr[~valid] = np.nan
    cfg = EngineConfig()
    whole = ActivityEnvelope(cfg, gyro).process(0, _chunk(acc, gyr if gyro else None, valid))
    env = ActivityEnvelope(cfg, gyro)
    parts = [
        env.process(a, _chunk(acc[a:b], gyr[a:b] if gyro else None, valid[a:b]))
        for a, b in _splits(n, rng)
    ]
    # sosfilt on different splits may differ in the last bit, never more
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-12, atol=1e-15)
    assert np.all(whole[~valid] == 0.0)
    assert np.all(np.isfinite(whole))


def test_gyro_envelope_removes_bias_and_sees_movement() -> None:
    rng = np.random.default_rng(3)
    n = 1000
    acc = rng.normal(0, 0.02, (n, 3)) + np.array([0.0, 0.0, 9.81])
    gyr = rng.normal(0, 0.004, (n, 3)) + np.array([0.05, -0.03, 0.02])  # bias of 0.06 rad/s
    gyr[600:650, 2] += np.hanning(50) * 1.5
    env = ActivityEnvelope(EngineConfig(), True).process(0, _chunk(acc, gyr, np.ones(n, bool)))
    assert np.median(env[300:590]) < 0.015  # bias gone once still epochs were seen
    assert env[600:660].max() > 1.3
    assert np.median(env[750:1000]) < 0.015  # no undershoot tail after the movement


def test_acc_envelope_reads_rotation_without_gravity_estimate() -> None:
    fs, n = 100.0, 600
    t = np.arange(n) / fs
    angle = np.where(t > 3.0, np.minimum((t - 3.0) / 0.5, 1.0), 0.0) * 1.0  # 1 rad tilt
    acc = np.column_stack((9.81 * np.sin(angle), np.zeros(n), 9.81 * np.cos(angle)))
    env = ActivityEnvelope(EngineConfig(), False).process(0, _chunk(acc, None, np.ones(n, bool)))
    assert env[:290].max() < 1e-6
    assert 1.5 < env[300:360].max() < 2.5  # ~ the 2 rad/s the wrist turned at
    assert env[400:].max() < 0.05  # a new orientation leaves no residue
