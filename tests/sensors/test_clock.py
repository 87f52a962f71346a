"""SensorClock: offset and drift from the minimum-delay envelope, wrap-around, restarts."""

from __future__ import annotations

import numpy as np
import pytest

from sensors.clock import SensorClock

HZ = 32768.0
PERIOD = 0.05  # s between packets: 10 samples at 200 Hz


def _run(
    clock: SensorClock,
    *,
    ppm: float,
    seconds: float,
    seed: int,
    jitter: float = 0.030,
    tick0: int = 0,
    start: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Feed packets of a sensor `ppm` fast; return true send times and their estimates."""
    rng = np.random.default_rng(seed)
    true = start + np.arange(0.0, seconds, PERIOD)
    est = np.empty_like(true)
    for k, t in enumerate(true):
        tick = round(tick0 + t * (1 + ppm * 1e-6) * HZ) % 2**32
        s = clock.observe(tick, HZ, t + rng.uniform(0.0, jitter))
        est[k] = clock.to_session(np.array([s]))[0]
    return true, est


@pytest.mark.parametrize("ppm", [-50.0, 0.0, 50.0])
def test_drift_and_jitter_residual_under_2ms_after_60s(ppm: float) -> None:
    clock = SensorClock()
    true, est = _run(clock, ppm=ppm, seconds=120.0, seed=int(ppm) + 100)
    late = true >= 60.0
    assert np.max(np.abs(est[late] - true[late])) < 0.002
    assert clock.estimate.drift_ppm == pytest.approx(ppm, abs=10.0)
    assert clock.epoch == 0


def test_no_jitter_is_exact() -> None:
    clock = SensorClock()
    true, est = _run(clock, ppm=20.0, seconds=30.0, seed=1, jitter=0.0)
    assert np.max(np.abs(est - true)) < 1.5 / HZ  # within tick rounding


def test_tick_wraps_without_a_restart() -> None:
    clock = SensorClock()
    tick0 = 2**32 - int(5 * HZ)  # wraps 5 s in
    true, est = _run(clock, ppm=-30.0, seconds=40.0, seed=2, tick0=tick0)
    assert clock.epoch == 0
    assert np.max(np.abs(est[true > 20] - true[true > 20])) < 0.002
    assert clock.estimate.span == pytest.approx(40.0, abs=2.0)  # lowest point per 1 s bin


def test_many_wraps_during_an_outage_counted_from_host_time() -> None:
    # 1 kHz ticks wrapping at 2^16: 65.536 s per turn; 200 s silent = 3 wraps
    clock = SensorClock(tick_modulus=2**16)
    s1 = clock.observe(60000, 1000.0, 10.0)
    s2 = clock.observe((60000 + 200_000) % 2**16, 1000.0, 210.02)
    assert s2 - s1 == pytest.approx(200.0)
    assert clock.epoch == 0


def test_restart_flag_starts_a_new_epoch() -> None:
    clock = SensorClock()
    _run(clock, ppm=40.0, seconds=20.0, seed=3)
    s = clock.observe(123, HZ, 20.5, restarted=True)
    assert (clock.epoch, s, clock.estimate.bins) == (1, 0.0, 1)
    assert clock.to_session(np.array([0.0]))[0] == pytest.approx(20.5)


def test_backwards_jump_is_a_restart() -> None:
    clock = SensorClock()
    clock.observe(10 * int(HZ), HZ, 1.0)
    clock.observe(10 * int(HZ) + int(HZ), HZ, 2.0)
    clock.observe(int(HZ), HZ, 3.0)  # rebooted: tick 1 s, host says +1 s
    assert clock.epoch == 1


def test_forward_jump_inconsistent_with_host_time_is_a_restart() -> None:
    clock = SensorClock()
    clock.observe(0, HZ, 1.0)
    clock.observe(int(HZ), HZ, 2.0)
    clock.observe(int(60 * HZ), HZ, 3.0)  # 59 s of ticks in 1 s of host time
    assert clock.epoch == 1


def test_stall_shorter_than_the_tolerance_keeps_the_epoch() -> None:
    clock = SensorClock(max_disagreement=5.0)
    clock.observe(0, HZ, 1.0)
    clock.observe(int(4 * HZ), HZ, 1.1)  # packets queued 4 s arrive in a burst
    assert clock.epoch == 0


def test_tick_rate_change_is_a_restart() -> None:
    clock = SensorClock()
    clock.observe(0, HZ, 1.0)
    clock.observe(1000, 1000.0, 2.0)
    assert clock.epoch == 1


def test_rate_is_bounded() -> None:
    clock = SensorClock(max_drift_ppm=100.0)
    clock.observe(0, HZ, 0.0)
    clock.observe(int(HZ), HZ, 1.01)  # 1 % apparent drift from two points
    assert abs(clock.estimate.drift_ppm) <= 100.0 + 1e-6


def test_bad_parameters_rejected() -> None:
    with pytest.raises(ValueError, match="tick_modulus"):
        SensorClock(tick_modulus=1)
    with pytest.raises(ValueError, match="must be > 0"):
        SensorClock(window=0.0)
