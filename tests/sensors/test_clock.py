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


def test_restarts_counted_by_cause() -> None:
    clock = SensorClock()
    clock.observe(10 * int(HZ), HZ, 1.0)  # the first clock: no restart
    clock.observe(8 * int(HZ), HZ, 1.05)  # back 2 s
    clock.observe(0, HZ, 1.1)  # back to zero, no flag
    clock.observe(60 * int(HZ), HZ, 1.15)  # 60 s ahead in 50 ms
    clock.observe(5, HZ, 1.2, restarted=True)
    clock.observe(5, 1000.0, 1.25)  # another tick rate
    r = clock.restarts
    assert (r.backward, r.forward, r.flagged, r.rate) == (2, 1, 1, 1)
    assert r.total == clock.epoch == 5


def test_host_time_far_behind_the_ticks_is_a_backward_restart() -> None:
    # the sensor's clock says 1 s passed while the host saw 20 s: it stood still or fell back
    clock = SensorClock()
    clock.observe(0, HZ, 1.0)
    clock.observe(int(HZ), HZ, 21.0)
    assert clock.restarts.backward == 1


def test_advance_over_half_a_turn_is_not_read_as_a_step_back() -> None:
    clock = SensorClock(tick_modulus=2**16)  # 65.536 s per turn at 1 kHz
    clock.observe(0, 1000.0, 0.0)
    s = clock.observe(40_000, 1000.0, 40.0)
    assert (s, clock.epoch) == (40.0, 0)


def test_estimated_tick_moves_the_clock_but_not_the_fit() -> None:
    clock = SensorClock()
    clock.observe(0, HZ, 0.010)
    clock.observe(int(HZ), HZ, 1.010)
    before = clock.estimate
    s = clock.observe(2 * int(HZ), HZ, 2.0, fit=False)  # 10 ms earlier than the line
    assert s == 2.0
    assert clock.estimate == before
