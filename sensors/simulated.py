"""Seeded generator of two wrist IMUs with ground truth (DESIGN.md §1-3).

A scenario plan (sensors/scenarios.py) says who moves when; this module renders it into
samples, one wrist and one ~10 s segment at a time, so a day-long session never sits in
memory. State that must run on across segments (orientation, gyro bias, filter states,
samples lost since the last delivered packet) is carried over. Random numbers come from
generators seeded by (seed, wrist, segment, stream), so each quantity is reproducible on
its own and switching e.g. the gyro off leaves the accelerometer samples unchanged.

Each wrist's true angular velocity is the sum of voluntary strokes, mirror copies, arm
swing, rest twitches, postural drift and physiological tremor. Integrating it rotates the
wrist, hence gravity in the sensor frame; the strokes' lever arms give the linear
acceleration. The sensor then adds bias, scale error and white noise, saturates at
±2000 dps / ±16 g, quantises to 16 bits and sends packets of `block_size` samples,
some of them lost, stamped with jitter.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import numpy as np

# scipy.signal takes ~1.5 s to import, so functions that filter import it
# themselves: commands that never simulate start without it.
from sensors.scenarios import (
    SCENARIOS,
    Interval,
    Plan,
    Stroke,
    TruthMovement,
    Walk,
    plan,
    reflect_axial,
    reflect_polar,
)
from sensors.source import paced
from sensors.types import STANDARD_GRAVITY, FloatArray, ImuBlock, Side

__all__ = [
    "SCENARIOS",
    "Interval",
    "SimConfig",
    "SimulatedSource",
    "Simulation",
    "TruthMovement",
    "simulate",
]

GYR_RANGE = math.radians(2000.0)  # rad/s, ±2000 dps full scale
ACC_RANGE = 16.0 * STANDARD_GRAVITY  # m/s^2
SEGMENT = 10.0  # s rendered at a time

# Rest-model constants below (_GYR_NOISE, _DRIFT, _TREMOR, _TREMOR_HZ, _TWITCH_*) are
# fitted to PADS seated rest (Apple Watch, Relaxed task, 20 s, both wrists), subjects
# 134, 172, 183, 200, 240 (151 left has a 6.8 Hz patient tremor: left out); numbers
# are vector rms of the gyro with each recording's mean removed, medians over the 10
# wrists; `python -m benchmarks.real_stats` measures both sides.
# PADS seated rest, subjects 134, 172, 183, 200, 240: 25-50 Hz holds 0.004-0.006 rad/s
# (vector), i.e. white noise of ~0.004 rad/s per axis; 10th percentile speed 0.0047
_GYR_NOISE = 0.004  # rad/s, white, per axis
_ACC_NOISE = 0.03  # m/s^2, white, per axis
_BIAS = (0.012, 1200.0)  # rad/s, s: gyro bias, stationary std and correlation time
# PADS seated rest, subjects 134, 172, 183, 200, 240: below 1 Hz 0.008 rad/s and
# 1-3.5 Hz 0.007-0.015 rad/s (vector): a sway with a ~1 Hz corner, not a slow drift
_DRIFT = (0.007, 0.15)  # rad/s, s: postural sway of a resting wrist, std per axis, tau
# PADS seated rest, subjects 134, 172, 183, 200, 240: 3.5-12 Hz holds 0.012-0.021 rad/s
# (vector) in the quiet wrists, half the power, with noise and sway in it
_TREMOR = (0.004, 0.01)  # rad/s rms, physiological tremor, per axis, drawn per wrist
# PADS seated rest, subjects 134, 172, 183, 200, 240: the 3-15 Hz spectral peak lies at
# 5.5-9 Hz in the quiet wrists
_TREMOR_HZ = (6.0, 10.0)  # Hz, centre of the tremor band (+-1.5 Hz), drawn per wrist
# PADS seated rest, subjects 134, 172, 183, 200, 240: brief jerks of 0.1-0.9 rad/s
# (10 Hz speed, half-height width 0.05-0.13 s), from none in 20 s (6 of the 10 wrists)
# to ~60 per minute (183, 200); fidgets (3 Hz speed above 0.15 rad/s) 0 per minute in
# the median wrist, 3.4 pooled, peak 0.25 rad/s, 0.14 s above 0.15 (medians); so each
# wrist draws its own rate, log-uniform in this range
_TWITCH_RATE = (0.5 / 60.0, 20.0 / 60.0)  # per s, per wrist
# PADS seated rest, subjects 134, 172, 183, 200, 240: the jerks' 10 Hz half-height
# widths of 0.05-0.13 s are those of min-jerk lobes of 0.1-0.25 s
_TWITCH_LOBE = (0.1, 0.25)  # s, length of each of a twitch's two lobes
# PADS seated rest, subjects 134, 172, 183, 200, 240: jerks of 0.1-0.9 rad/s, most
# below 0.3 (10 Hz speed; the largest are the sum of a twitch and the rest's sway)
_TWITCH_PEAK = (0.08, 0.5)  # rad/s, peak angular speed, drawn log-uniform
_WRIST_LEVER = np.array([0.08, 0.0, 0.0])  # m, wrist joint -> sensor, for tremor
_SHOULDER_LEVER = (0.6, 0.0, 0.0)  # m, shoulder -> sensor, for arm swing
_RAMP = 2.0  # s, fade in/out of walking and vibration
_SETTLE = 60.0  # s, time constant of a resting forearm's return to its usual posture
# seed streams of one wrist's segment
_DRIFT_S, _BIAS_S, _GYR_S, _ACC_S, _TREMOR_S, _TWITCH_S, _JITTER_S, _LOSS_S = range(8)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How the simulated sensors sample and deliver.

    `fs` Hz; `duration` s (None: the scenario's default); `gravity` False: the sensor
    outputs linear acceleration; `gyro` False: accelerometer-only (`gyr` None);
    `loss_rate` probability that a packet of `block_size` samples is lost; `jitter` s,
    std of the per-sample timestamp error (clipped to ±0.45 sample so time still
    increases); `seed` for every random draw.
    """

    fs: float = 100.0
    duration: float | None = None
    gravity: bool = True
    gyro: bool = True
    loss_rate: float = 0.0
    jitter: float = 0.0
    block_size: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.fs > 0:
            raise ValueError("fs must be > 0")
        if self.duration is not None and not self.duration > 0:
            raise ValueError("duration must be > 0")
        if not 0.0 <= self.loss_rate < 1.0:
            raise ValueError("loss_rate must be in [0, 1)")
        if not self.jitter >= 0:
            raise ValueError("jitter must be >= 0")
        if self.block_size < 1:
            raise ValueError("block_size must be >= 1")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


class Simulation:
    """A planned session: its ground truth at once, its samples on demand."""

    __slots__ = ("_plan", "bouts", "common_mode", "config", "duration", "scenario", "truth")

    def __init__(self, scenario: str, config: SimConfig, plan: Plan) -> None:
        self.config = config
        self.scenario = scenario
        self.duration = plan.duration
        self.truth: list[TruthMovement] = list(plan.truth)
        self.common_mode: list[Interval] = plan.common_mode
        self.bouts: list[Interval] = list(plan.bouts)  # continuous activity, no truth inside
        self._plan = plan

    def blocks(self) -> Iterator[ImuBlock]:
        """Both wrists' packets in order of arrival (last sample time), rendered lazily."""
        wrists = (_Wrist(self._plan, self.config, side).blocks() for side in Side)
        return heapq.merge(*wrists, key=lambda b: float(b.t[-1]))


def simulate(scenario: str = "firearm-drill", config: SimConfig = SimConfig()) -> Simulation:
    """Plan `scenario` (one of SCENARIOS) with `config`; ValueError for an unknown name."""
    return Simulation(scenario, config, plan(scenario, config.duration, config.seed))


class SimulatedSource:
    """A Simulation as an async source, paced at `speed` times real time (None: at once)."""

    def __init__(self, simulation: Simulation, speed: float | None = None) -> None:
        self._simulation = simulation
        self._speed = speed

    def blocks(self) -> AsyncIterator[ImuBlock]:
        return paced(self._simulation.blocks(), self._speed)


class _Wrist:
    """Renders one wrist segment by segment, carrying the state between segments."""

    def __init__(self, plan: Plan, config: SimConfig, side: Side) -> None:
        self.cfg = config
        self.side = side
        self.who = 1 if side is Side.L else 2  # 0 draws what both wrists share
        self.n = round(plan.duration * config.fs)
        bs = config.block_size
        self.seg = bs * max(1, round(SEGMENT * config.fs / bs))  # packets never straddle
        self.strokes = [s for s in plan.strokes if s.side is side]
        self.starts = np.array([s.start for s in self.strokes])
        self.longest = max((s.end - s.start for s in self.strokes), default=0.0)
        self.walks = plan.walks
        self.vibrations = plan.vibrations
        self.heels = [
            np.random.default_rng([config.seed, 0, 0, 100 + i]).normal(1.0, 0.2, _steps(w))
            for i, w in enumerate(plan.walks)
        ]
        rng = self._rng(-1, 0)
        self.phase = rng.uniform(0.05, 0.95)  # samples: the wrists are not sampled together
        self.gyr_scale = rng.normal(1.0, 0.005, 3)
        self.acc_scale = rng.normal(1.0, 0.005, 3)
        self.acc_bias = rng.normal(0.0, 0.03, 3)
        self.coupling = rng.uniform(0.85, 1.15)  # how firmly the strap passes body shocks on
        # forearm on a table, palm down: world up is about +z of the sensor
        tilt = _quat(np.array([*rng.normal(0.0, 0.15, 2), 0.0]))
        self.q = _qmul(_quat(np.array([0.0, 0.0, rng.uniform(-np.pi, np.pi)])), tilt)
        self.home = _up(self.q)
        self.bias = rng.normal(0.0, _BIAS[0], 3)
        self.drift = rng.normal(0.0, _DRIFT[0], 3)
        self.lost = 0
        nyq = config.fs / 2
        centre = rng.uniform(*_TREMOR_HZ)
        self.tremor_rms = rng.uniform(*_TREMOR)
        self.twitch_rate = math.exp(rng.uniform(*np.log(_TWITCH_RATE)))
        self.tremor_sos = _bandpass(centre - 1.5, centre + 1.5, config.fs)
        self.tremor_zi = np.zeros((self.tremor_sos.shape[0], 2, 3))
        self.tremor_last = np.zeros(3)
        self.tremor_gain = _rms_gain(self.tremor_sos)
        self.vib_sos = _bandpass(3.0, min(20.0, 0.8 * nyq), config.fs)
        self.vib_gain = _rms_gain(self.vib_sos)
        self.vib_zi: FloatArray | None = None

    def _rng(self, segment: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, self.who, segment + 1, stream])

    def blocks(self) -> Iterator[ImuBlock]:
        for k in range(-(-self.n // self.seg)):
            yield from self._segment(k)

    def _segment(self, k: int) -> Iterator[ImuBlock]:
        """Segment `k` as packets: some lost, the rest with jittered timestamps."""
        cfg = self.cfg
        i0 = k * self.seg
        t, acc, gyr = self._render(k, i0, min(self.n, i0 + self.seg) - i0)
        n = len(t)
        if cfg.jitter > 0:
            err = self._rng(k, _JITTER_S).normal(0.0, cfg.jitter, n)
            t = t + np.clip(err, -0.45 / cfg.fs, 0.45 / cfg.fs)
        t.setflags(write=False)
        bs = cfg.block_size
        dropped = self._rng(k, _LOSS_S).random(-(-n // bs)) < cfg.loss_rate
        for j, a in enumerate(range(0, n, bs)):
            b = min(a + bs, n)
            if dropped[j]:
                self.lost += b - a
                continue
            g = None if gyr is None else gyr[a:b]
            yield ImuBlock(self.side, t[a:b], acc[a:b], g, seq=i0 // bs + j, lost=self.lost)
            self.lost = 0

    def _render(self, k: int, i0: int, n: int) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        """Samples i0 .. i0+n-1 (segment `k`): true times, acc and gyro as the sensor reads."""
        cfg = self.cfg
        t = (np.arange(i0, i0 + n, dtype=np.float64) + self.phase) / cfg.fs
        omega = np.zeros((n, 3))  # rad/s, true angular velocity, sensor frame
        lin = np.zeros((n, 3))  # m/s^2, linear acceleration, sensor frame
        vert = np.zeros(n)  # m/s^2, extra acceleration along the vertical
        self.drift = _ou(self._rng(k, _DRIFT_S), self.drift, _DRIFT, cfg.fs, omega)
        if not any(w.start < t[-1] + 1.0 and w.end > t[0] - 1.0 for w in self.walks):
            # drift and one-way movements must not tip a resting wrist over in a day: it
            # settles back (turning about home x up brings up towards home)
            omega += np.cross(self.home, _up(self.q)) / _SETTLE
        lo = int(np.searchsorted(self.starts, t[0] - self.longest))
        hi = int(np.searchsorted(self.starts, t[-1]))
        for s in self.strokes[lo:hi]:
            _add_stroke(s, t, omega, lin)
        for s in self._twitches(k, t):
            _add_stroke(s, t, omega, lin)
        for walk, heels in zip(self.walks, self.heels, strict=True):
            if walk.start < t[-1] and walk.end > t[0]:
                self._add_walk(walk, heels, t, omega, lin, vert)
        self._add_tremor(k, omega, lin)
        self._add_vibration(k, t, omega, vert)
        up = self._orientation(omega)
        acc = lin + up * (vert + (STANDARD_GRAVITY if cfg.gravity else 0.0))[:, None]
        acc = acc * self.acc_scale + self.acc_bias
        acc += self._rng(k, _ACC_S).normal(0.0, _ACC_NOISE, (n, 3))
        acc = _adc(acc, ACC_RANGE)
        gyr: FloatArray | None = None
        if cfg.gyro:
            bias = np.zeros((n, 3))
            self.bias = _ou(self._rng(k, _BIAS_S), self.bias, _BIAS, cfg.fs, bias)
            gyr = omega * self.gyr_scale + bias
            gyr += self._rng(k, _GYR_S).normal(0.0, _GYR_NOISE, (n, 3))
            gyr = _adc(gyr, GYR_RANGE)
        return t, acc, gyr

    def _twitches(self, k: int, t: FloatArray) -> list[Stroke]:
        """Small involuntary jerks at rest, not in the truth; kept inside the segment."""
        rng = self._rng(k, _TWITCH_S)
        out: list[Stroke] = []
        for _ in range(rng.poisson(self.twitch_rate * (t[-1] - t[0]))):
            lobe = rng.uniform(*_TWITCH_LOBE)
            axis = rng.normal(0.0, 1.0, 3)
            x, y, z = (float(c) for c in axis / np.linalg.norm(axis))
            start = rng.uniform(t[0], max(t[0], t[-1] - 2 * lobe))
            size = math.exp(rng.uniform(*np.log(_TWITCH_PEAK)))
            peak = rng.choice([-1.0, 1.0]) * size
            out.append(Stroke(self.side, start, lobe, 2, peak, (x, y, z), (0.05, 0.0, 0.0)))
        return out

    def _add_walk(
        self,
        w: Walk,
        heels: FloatArray,
        t: FloatArray,
        omega: FloatArray,
        lin: FloatArray,
        vert: FloatArray,
    ) -> None:
        """Arm swing (anti-phase between the arms), heel strikes and bounce of one bout."""
        a, b = np.searchsorted(t, [w.start, w.end])
        tt = t[a:b] - w.start
        env, denv = _envelope(tt, w.end - w.start)
        # the arms swing in anti-phase: the reflection of the right arm's swing, negated
        sign, axis, lever = 1.0, w.axis, _SHOULDER_LEVER
        if self.side is Side.L:
            sign, axis, lever = -1.0, reflect_axial(axis), reflect_polar(lever)
        wt = 2 * np.pi * w.freq
        v = sign * w.peak * env * np.sin(wt * tt)
        dv = sign * w.peak * (denv * np.sin(wt * tt) + env * wt * np.cos(wt * tt))
        _add_rotation(v, dv, np.array(axis), np.array(lever), omega[a:b], lin[a:b])
        # heel strikes fall at the swing's turning points, twice per swing cycle
        m = np.floor(tt * 2 * w.freq - 0.5).astype(int)
        since = tt - (m + 0.5) / (2 * w.freq)
        hit = np.where(m >= 0, heels[np.clip(m, 0, len(heels) - 1)], 0.0)
        shock = w.heel * hit * np.exp(-since / 0.03) * np.sin(2 * np.pi * 15.0 * since)
        bounce = -w.bounce * np.cos(2 * wt * tt)  # body pushed up at each heel strike
        vert[a:b] += self.coupling * env * (shock + bounce)

    def _add_tremor(self, k: int, omega: FloatArray, lin: FloatArray) -> None:
        from scipy import signal  # see the module's import note

        if self.tremor_sos.size == 0:
            return
        noise = self._rng(k, _TREMOR_S).normal(0.0, 1.0, omega.shape)
        trem, self.tremor_zi = signal.sosfilt(self.tremor_sos, noise, axis=0, zi=self.tremor_zi)
        trem *= self.tremor_rms / self.tremor_gain
        alpha = np.diff(trem, axis=0, prepend=self.tremor_last[None, :]) * self.cfg.fs
        self.tremor_last = trem[-1]
        omega += trem
        # centripetal term left out: omega^2 r is ~1e-6 m/s^2 at tremor amplitudes
        lin += np.cross(alpha, _WRIST_LEVER)

    def _add_vibration(self, k: int, t: FloatArray, omega: FloatArray, vert: FloatArray) -> None:
        """Body-borne vibration: drawn from a stream both wrists share, so it is common."""
        from scipy import signal  # see the module's import note

        env = np.zeros((len(t), 2))
        for v in self.vibrations:
            if v.start < t[-1] and v.end > t[0]:
                e, _ = _envelope(t - v.start, v.end - v.start)
                env += e[:, None] * np.array([v.acc, v.gyr])
        if not env.any() or self.vib_sos.size == 0:
            self.vib_zi = None
            return
        noise = np.random.default_rng([self.cfg.seed, 0, k + 1, 0]).normal(0.0, 1.0, (len(t), 4))
        zi = np.zeros((self.vib_sos.shape[0], 2, 4)) if self.vib_zi is None else self.vib_zi
        shake, self.vib_zi = signal.sosfilt(self.vib_sos, noise, axis=0, zi=zi)
        shake *= self.coupling / self.vib_gain
        vert += env[:, 0] * shake[:, 0]
        omega += env[:, 1:] * shake[:, 1:]

    def _orientation(self, omega: FloatArray) -> FloatArray:
        """World up in the sensor frame, per sample, after rotating by `omega` (rad/s)."""
        dq = _quat(omega / self.cfg.fs)
        dq[:, 0] = _qmul(self.q, dq[:, 0])
        q = _cumprod(dq)
        self.q = q[:, -1] / np.linalg.norm(q[:, -1])
        return _up(q)


def _add_stroke(s: Stroke, t: FloatArray, omega: FloatArray, lin: FloatArray) -> None:
    """Min-jerk lobes v(τ) = peak·16τ²(1-τ)², alternating in sign, added in place."""
    a, b = np.searchsorted(t, [s.start, s.end])
    if a == b:
        return
    u = (t[a:b] - s.start) / s.lobe
    lobe = np.minimum(np.floor(u), s.lobes - 1)
    tau = u - lobe
    peak = s.peak * np.where(lobe % 2 == 1, -1.0, 1.0)
    v = peak * 16 * tau**2 * (1 - tau) ** 2
    dv = peak * 32 * tau * (1 - tau) * (1 - 2 * tau) / s.lobe
    _add_rotation(v, dv, np.array(s.axis), np.array(s.lever), omega[a:b], lin[a:b])


def _add_rotation(
    v: FloatArray,
    dv: FloatArray,
    axis: FloatArray,
    lever: FloatArray,
    omega: FloatArray,
    lin: FloatArray,
) -> None:
    """Rotation at `v` rad/s (`dv` rad/s^2) about `axis`, centre `lever` m from the sensor.

    A rigid body turning about a fixed point: a = alpha x r + omega x (omega x r).
    """
    omega += v[:, None] * axis
    tangential = np.cross(axis, lever)
    centripetal = np.dot(axis, lever) * axis - lever
    lin += dv[:, None] * tangential + (v * v)[:, None] * centripetal


def _envelope(tt: FloatArray, length: float) -> tuple[FloatArray, FloatArray]:
    """Raised-cosine fade in and out over _RAMP s of a bout `length` s long; and d/dt."""
    r1 = np.clip(tt / _RAMP, 0.0, 1.0)
    r2 = np.clip((length - tt) / _RAMP, 0.0, 1.0)
    e1, e2 = 0.5 - 0.5 * np.cos(np.pi * r1), 0.5 - 0.5 * np.cos(np.pi * r2)
    d1 = 0.5 * np.pi * np.sin(np.pi * r1) / _RAMP
    d2 = -0.5 * np.pi * np.sin(np.pi * r2) / _RAMP
    return e1 * e2, d1 * e2 + e1 * d2


def _ou(
    rng: np.random.Generator,
    last: FloatArray,
    spec: tuple[float, float],
    fs: float,
    out: FloatArray,
) -> FloatArray:
    """Add an Ornstein-Uhlenbeck process (std, correlation time s) to `out`; its last value."""
    from scipy import signal  # see the module's import note

    std, tau = spec
    rho = math.exp(-1.0 / (fs * tau))
    noise = rng.normal(0.0, std * math.sqrt(1 - rho * rho), out.shape)
    y, _ = signal.lfilter([1.0], [1.0, -rho], noise, axis=0, zi=rho * last[None, :])
    out += y
    return np.asarray(y[-1])


def _steps(w: Walk) -> int:
    return math.ceil((w.end - w.start) * 2 * w.freq) + 1


def _bandpass(lo: float, hi: float, fs: float) -> FloatArray:
    """Second-order Butterworth band-pass (Hz) as SOS; empty when fs cannot carry it."""
    from scipy import signal  # see the module's import note

    if hi >= 0.45 * fs or lo >= hi:
        return np.zeros((0, 6))
    return np.asarray(signal.butter(2, [lo, hi], btype="bandpass", fs=fs, output="sos"))


def _rms_gain(sos: FloatArray) -> float:
    """RMS of the filter's output for unit white noise (1 for an empty filter)."""
    from scipy import signal  # see the module's import note

    if sos.size == 0:
        return 1.0
    impulse = np.zeros(4096)
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(signal.sosfilt(sos, impulse) ** 2)))


def _adc(x: FloatArray, full_scale: float) -> FloatArray:
    """Saturate at ±full_scale and quantise to a signed 16-bit code; read-only."""
    lsb = full_scale / 32768.0
    out = np.round(np.clip(x, -full_scale, full_scale) / lsb) * lsb
    out.setflags(write=False)
    return out


def _quat(rotvec: FloatArray) -> FloatArray:
    """Unit quaternions (w, x, y, z) of rotation vectors (rad) given as rows; (4, ...)."""
    angle = np.linalg.norm(rotvec, axis=-1)
    # sin(angle/2)/angle without dividing by zero at rest
    return np.concatenate(
        [np.cos(angle / 2)[None], (rotvec * 0.5 * np.sinc(angle / (2 * np.pi))[..., None]).T]
    )


def _up(q: FloatArray) -> FloatArray:
    """World up in the sensor frame for orientations q (sensor -> world), (4, ...) -> (..., 3)."""
    w, x, y, z = q
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1)


def _qmul(a: FloatArray, b: FloatArray) -> FloatArray:
    """Hamilton products of quaternions stored as (w, x, y, z) along the first axis."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


def _cumprod(q: FloatArray) -> FloatArray:
    """Running products q0 q1 ... qk of (4, n) quaternions, in log2(n) vectorised steps.

    Hillis-Steele scan: quaternion products are associative, so partial products can be
    combined pairwise, earlier factor on the left.
    """
    q = q.copy()
    d = 1
    while d < q.shape[1]:
        q[:, d:] = _qmul(q[:, :-d], q[:, d:])
        d *= 2
    return q
