"""Engine parameters, with units, and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sensors.config_table import typo_hint


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Parameters of the online engine. Times in seconds, frequencies in Hz.

    Thresholds `k_*` are multiples of the adaptive rest spread of the activity
    envelope; `*_floor` keep that spread from collapsing on an idealised sensor.
    """

    fs: float = 100.0  # Hz, grid both wrists are resampled onto
    max_wait: float = 1.0  # s a side may lag the other before its samples count as missing
    max_gap: float = 0.1  # s between two samples beyond which the span is missing, not bridged
    max_gap_no_gyro: float = 0.04  # s, the same for an accelerometer-only side
    gyro_lowpass: float = 5.0  # Hz, angular rate is smoothed to this band (tremor out)
    # Hz, acceleration before its derivative, whose noise grows with frequency. Real
    # resting wrists put fidgets and tremor into the jerk from 3 Hz up: on the PADS tune
    # subjects 2.5 Hz took false movements in rest from 2.5 to 0.9 a minute and recall
    # from 90 to 99 %; the simulator's accelerometer-only recall stayed at 78 %.
    acc_lowpass: float = 2.5
    # Hz: the same signal low-passed once more (2nd order) tells a voluntary movement,
    # which turns the hand one way for a while, from a tremor burst, whose rotation
    # swings back and forth: at 2 Hz a 5-7 Hz tremor is gone, a reach (1-2 Hz) is not.
    slow_lowpass: float = 2.0
    still_gyro: float = 0.03  # rad/s, rms angular rate under which a wrist can be still
    still_acc: float = 0.1  # m/s^2, rms of |acc| under which a wrist can be still
    bias_weight: float = 0.2  # weight of a still epoch in the gyro bias estimate
    baseline_epoch: float = 0.25  # s, rest statistics are updated once per epoch
    baseline_rise: float = 0.05  # weight of a new rest epoch when the level goes up
    baseline_fall: float = 0.3  # weight when it goes down: recover fast from a moving start
    gyro_spread_floor: float = 0.003  # rad/s
    acc_spread_floor: float = 0.015  # m/s^2
    # Physiological floors of the onset threshold above the rest level, envelope units
    # (~rad/s): real resting wrists fidget at 0.2-0.6 rad/s peak for 0.1-0.3 s (PADS
    # seated rest, tune subjects), which a threshold of spreads alone takes for movements.
    gyro_on_floor: float = 0.25
    # The accelerometer envelope (jerk over g) of a real resting wrist is 5-10 times the
    # gyro's (median 0.03-0.35, 99th percentile up to 1.0 on PADS rest, tune subjects);
    # floors that quiet it (0.8) also lose a fifth of the simulator's small movements, so
    # these stay low and real accelerometer-only rest still fires (README, accuracy).
    acc_on_floor: float = 0.3
    k_on: float = 8.0  # onset threshold, rest spreads above rest level
    k_off: float = 4.0  # offset threshold
    k_start: float = 2.0  # where the onset is backdated to
    min_on: float = 0.02  # s above k_on before an onset is committed
    min_off: float = 0.25  # s below k_off before a movement ends (bridges reversals)
    # rad/s above rest a voluntary movement must reach (gyro): real resting wrists
    # fidget up to 0.6 rad/s, real movements between two pauses of the hand peak above
    # 0.4 rad/s in 95 % of cases (PADS, tune subjects)
    min_peak: float = 0.45
    acc_min_peak: float = 0.5  # the same for the accelerometer envelope
    # How far the slow envelope (slow_lowpass) must rise during a voluntary movement, as a
    # share of the envelope's own peak (gyro). Real tremor bursts reach 0.1-0.3, real
    # movements between pauses 0.5 and more (PADS, tune subjects), the simulator's quick
    # taps and trigger pulls 0.3-0.4: higher shares cost them.
    min_slow_share: float = 0.3
    # The same for the accelerometer's jerk envelope: on real rest (PADS, tune subjects,
    # acc_lowpass 2.5 Hz) 0.3 takes false movements from 1.06 to 0.90 a minute at the
    # same recall.
    acc_min_slow_share: float = 0.3
    # Where a movement begins: the last row before its rise where the envelope was within
    # this fraction of its peak above rest (the kinematic 5 %-of-peak convention), so
    # low-level activity just before the rise is not dated into the movement.
    onset_fraction: float = 0.05
    # s the envelope must stay that low for the movement to begin there: real movements
    # open with sub-movements whose pauses dip under that level for a few rows (a
    # bimanual pair of the PADS tune subjects read as a copy 110 ms late); a fidget
    # before the movement is followed by a longer pause and stays out
    onset_quiet: float = 0.03
    # s: a shorter burst is a glitch or a twitch, not a voluntary movement (real rest
    # holds one-sample spikes of 0.5 rad/s, and fidgets of 0.1-0.3 s)
    min_duration: float = 0.2
    max_backdate: float = 0.5  # s
    # s the slow envelope must stay under the offset threshold to end a movement whose
    # slow envelope never rose min_slow_share of its peak: a tremor burst, which would
    # else run on into the next real movement and date it seconds early (PADS tune
    # subject 151's tremoring hand: 0.4 took its bimanual trials from 91 to 100 %)
    tremor_end: float = 0.4
    settle: float = 0.2  # s after missing data during which no onset is committed
    pre: float = 0.1  # s of the analysis window before the active onset
    lag_window: float = 0.25  # s, contralateral activity up to this late is time-locked
    # Continuous activity (eating, dressing): a hand turning one way (slow envelope over
    # the offset threshold) for this share of about the last bout_window is in a bout;
    # its pauses up to bout_pause do not end its movement, and while both hands are in
    # bouts, the other hand's activity is its own, not a copy. A tremoring hand's slow
    # envelope stays low, so tremor makes no bout (PADS tune subject 151). Simulated
    # day at home: 46 events and 5.4 mirror events a minute of continuous activity
    # before, 10 and 0.7 with these.
    bout_window: float = 10.0  # s
    bout_share: float = 0.3
    bout_pause: float = 1.0  # s
    max_duration: float = 4.0  # s, a longer movement is decided without its offset
    max_active: float = 120.0  # s of activity after which the rest level is learnt anew
    k_mirror: float = 6.0  # contralateral peak above rest, in rest spreads, to count
    min_coupling: float = 0.5  # envelope correlation needed for sub-threshold activity
    z_copy: float = 7.0  # matched score (rest-noise units) that alone makes a copy mirror
    min_copy_ratio: float = 0.03  # a matched copy weaker than this is body motion, not mirror
    z_gate: float = 3.0  # matched score a peak above k_mirror must also reach
    # s over which an envelope's rest noise stays correlated (its 5 Hz 4th-order low-pass)
    noise_memory: float = 0.15
    # s of the other hand's own past on which the matched score's noise is measured: real
    # rest (sway, tremor bursts) is noisier over a movement's length than its spread says
    null_span: float = 3.0
    bimanual_ratio: float = 0.6  # contra/active ratio from which both hands are intended
    # s: the weaker hand beginning this much later than the stronger is its copy, however
    # strong; intended two-handed movements begin together
    bimanual_max_lag: float = 0.07
    min_completeness: float = 0.8  # of the other side's window, below: indeterminate
    grade_ratios: tuple[float, float, float] = field(default=(0.15, 0.4, 0.8))
    # mirror_ratio from which grade 2, 3, 4 start (grade 1 below the first)

    def __post_init__(self) -> None:
        _positive(
            self,
            "fs",
            "max_wait",
            "max_gap",
            "max_gap_no_gyro",
            "baseline_epoch",
            "min_on",
            "min_off",
        )
        _positive(self, "k_on", "k_off", "k_mirror", "max_duration", "lag_window", "max_active")
        _positive(self, "z_copy", "noise_memory", "bimanual_max_lag", "null_span", "onset_quiet")
        _positive(self, "tremor_end", "bout_window", "bout_pause")
        for name in ("gyro_lowpass", "acc_lowpass", "slow_lowpass"):
            if not 0 < getattr(self, name) < self.fs / 2:
                raise ConfigError(f"{name}: must be between 0 and fs/2")
        if self.lag_window < self.min_off:
            raise ConfigError("lag_window must be >= min_off")
        if not self.k_start < self.k_off < self.k_on:
            raise ConfigError("k_start < k_off < k_on must hold")
        g = self.grade_ratios
        if not (len(g) == 3 and 0 < g[0] < g[1] < g[2] <= 1):
            raise ConfigError(f"grade_ratios: need 0 < g2 < g3 < g4 <= 1, got {g}")
        if not 0 < self.bimanual_ratio <= 1:
            raise ConfigError("bimanual_ratio must be in (0, 1]")
        if not 0 < self.bout_share <= 1:
            raise ConfigError("bout_share must be in (0, 1]")
        for name in ("min_slow_share", "acc_min_slow_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be in [0, 1)")

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "engine") -> EngineConfig:
        """Build from a parsed TOML table; unknown keys and bad values name the key."""
        defaults = cls()
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{where}.{key}: unknown key{typo_hint(key, known)}")
            default = getattr(defaults, key)
            if isinstance(default, tuple):
                if not isinstance(value, list) or len(value) != len(default):
                    raise ConfigError(f"{where}.{key}: expected a list of {len(default)} numbers")
                if not all(_is_number(v) for v in value):
                    raise ConfigError(f"{where}.{key}: expected numbers, got {value!r}")
                kwargs[key] = tuple(float(v) for v in value)
            elif _is_number(value):
                kwargs[key] = float(value)
            else:
                raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
        try:
            return cls(**kwargs)
        except ConfigError as e:
            raise ConfigError(f"{where}.{e}") from None

    def samples(self, seconds: float) -> int:
        """A duration on the grid, in whole samples (at least one)."""
        return max(1, round(seconds * self.fs))


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _positive(cfg: EngineConfig, *names: str) -> None:
    for name in names:
        if not getattr(cfg, name) > 0:
            raise ConfigError(f"{name} must be > 0, got {getattr(cfg, name)}")
