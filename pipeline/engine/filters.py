"""Causal filters with carried state, and the per-side activity envelope.

The engine sees a few rows per call, so these run on Python floats one row at
a time: cheaper than numpy's per-call cost at that size, and bit-identical
however the input is split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pipeline.engine.align import Row
from pipeline.engine.config import EngineConfig
from sensors.types import STANDARD_GRAVITY, FloatArray

# Cycles of the accelerometer low-pass's cutoff by which the derivative envelope
# crosses its threshold ahead of the rotation it reflects: the jerk of a reach peaks
# early, and the smoother the filter, the more of that lead it keeps. 0.055 s at
# 5 Hz on the simulator's lever-arm model; at 2.5 Hz on the PADS tune subjects the
# onsets came 54 ms early with a fixed 0.055 s, on time with 0.11 s.
JERK_LEAD_CYCLES = 0.275

Triple = tuple[float, float, float]  # one row of three channels
State = tuple[float, float, float, float, float, float]


class Biquad3:
    """One second-order IIR section (an SOS row) over three parallel signals.

    State is carried between calls, so any split of the input gives the output of
    one `scipy.signal.sosfilt` call on the whole. `seed` starts it as if a level
    had always been there, so start-up cannot fire a false onset. One section is
    all the envelope needs (a 2nd-order Butterworth), and with it the state fits
    in local variables, which is what makes row-by-row filtering cheap in Python.
    """

    def __init__(self, sos: FloatArray) -> None:
        sos = np.atleast_2d(np.asarray(sos, dtype=float))
        if sos.shape != (1, 6) or sos[0, 3] != 1.0:
            raise ValueError("expected one second-order section with a0 == 1")
        from scipy import signal  # ~1.5 s to import: only when a filter is designed

        b0, b1, b2, _, a1, a2 = (float(c) for c in sos[0])
        # Public so a hot loop elsewhere can run this recursion on its locals (as
        # `process` does) and write the state back: the gyro envelope fuses it with
        # its own per-row work. Typed floats: compiled, they stay unboxed C doubles.
        self.coef: tuple[float, float, float, float, float] = (b0, b1, b2, a1, a2)
        u1, u2 = (float(u) for u in signal.sosfilt_zi(sos)[0])
        self._unit = (u1, u2)  # steady state for an input of 1
        self.dc_gain = (b0 + b1 + b2) / (1.0 + a1 + a2)
        # z1 of channels 0-2, then z2 of channels 0-2: a tuple, which compiled code keeps
        # unboxed, where a list would box six floats on every call
        self.z: State = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        self.seeded = False

    def seed(self, x: Sequence[float]) -> None:
        """Restart as if `x` (three values) had been the input forever."""
        u1, u2 = self._unit
        self.z = (u1 * x[0], u1 * x[1], u1 * x[2], u2 * x[0], u2 * x[1], u2 * x[2])
        self.seeded = True

    def reset(self) -> None:
        self.seeded = False

    def feed(self, rows: list[Triple]) -> list[Triple]:
        """Filter rows of three values each; seeds from the first row if not seeded."""
        if not rows:
            return []
        if not self.seeded:
            self.seed(rows[0])
        b0, b1, b2, a1, a2 = self.coef
        p0, p1, p2, q0, q1, q2 = self.z
        out = []
        for x0, x1, x2 in rows:
            y0 = b0 * x0 + p0
            y1 = b0 * x1 + p1
            y2 = b0 * x2 + p2
            p0 = b1 * x0 - a1 * y0 + q0
            p1 = b1 * x1 - a1 * y1 + q1
            p2 = b1 * x2 - a1 * y2 + q2
            q0 = b2 * x0 - a2 * y0
            q1 = b2 * x1 - a2 * y1
            q2 = b2 * x2 - a2 * y2
            out.append((y0, y1, y2))
        self.z = (p0, p1, p2, q0, q1, q2)
        return out


class ActivityEnvelope:
    """Movement activity of one wrist, from its gyroscope or else its accelerometer.

    With a gyroscope: the low-passed angular rate minus its bias, as a vector
    magnitude (rad/s). The bias is the mean over epochs in which the wrist was
    still (gyro and accelerometer both quiet), so it follows drift without the
    long undershoot a high-pass filter leaves after every movement. Without one:
    the magnitude of the time derivative of the low-passed acceleration over g.
    Turning the wrist turns gravity at |omega x g|, so this reads roughly in rad/s,
    needs no gravity estimate, and works whether gravity is in the signal or not.

    `feed` also gives the slow envelope: the same, low-passed once more at
    `slow_lowpass`, which a tremor burst hardly moves and a voluntary movement does
    (see EngineConfig.min_slow_share).

    A missing row gives None and the filter restarts from the next present row,
    so a gap cannot leave a step behind that looks like a movement. The bias
    changes only at epoch boundaries of the grid.
    """

    def __init__(self, cfg: EngineConfig, has_gyro: bool) -> None:
        from scipy import signal  # ~1.5 s to import: only when an envelope is built

        # 4th order: pathological tremor (3.5-7.5 Hz, up to 0.8 rad/s rms on a real resting
        # wrist) must not pass as activity, while reaches (about 1-2 Hz) do; without a gyro
        # the derivative also lifts physiological tremor (8-12 Hz) by its frequency.
        cutoff = cfg.gyro_lowpass if has_gyro else cfg.acc_lowpass
        sos = np.asarray(signal.butter(4, cutoff, fs=cfg.fs, output="sos"))
        self._has_gyro = has_gyro
        sections = [Biquad3(section) for section in sos]
        self._filter = _Chain(sections)
        self._lp1, self._lp2 = sections  # with a gyro, both run inline there
        slow = signal.butter(2, cfg.slow_lowpass, fs=cfg.fs, output="sos")
        self._slow = Biquad3(np.asarray(slow))  # after the low-pass; inline too with a gyro
        # Rows by which the envelope trails the motion: the low-pass's group delay
        # well below its cutoff, less (without a gyro) the lead of the jerk in the
        # acceleration over the rotation itself.
        _, gd = signal.group_delay(signal.sos2tf(sos), w=[0.5], fs=cfg.fs)
        self.delay = float(gd[0]) - (0.0 if has_gyro else JERK_LEAD_CYCLES / cutoff * cfg.fs)
        self._rate = cfg.fs / STANDARD_GRAVITY
        self._epoch = cfg.samples(cfg.baseline_epoch)
        self._still_gyro = cfg.still_gyro**2
        self._still_acc = cfg.still_acc**2
        self._bias_weight = cfg.bias_weight
        self._sums: list[float] = []
        self._count = 0
        self._spoiled = False
        self.reset()

    def reset(self) -> None:
        self._filter.reset()  # the next present row re-seeds it
        self._slow.reset()
        self._prev: Triple = (0.0, 0.0, 0.0)  # last filtered row
        self._prev_slow: Triple = (0.0, 0.0, 0.0)  # and of the slow filter
        self.bias = [0.0, 0.0, 0.0]
        self._bias_known = False
        self._new_epoch()

    def feed(
        self, start: int, rows: Sequence[Row | None]
    ) -> tuple[list[float | None], list[float | None]]:
        """Envelope and slow envelope of grid rows [start, start + n); None where a row
        is missing."""
        out: list[float | None] = []
        slow: list[float | None] = []
        if not self._has_gyro:
            self._acc_rows(rows, out, slow)
        elif None not in rows:  # no gap: the common case
            self._gyro_run(start, rows, out, slow)  # type: ignore[arg-type]
        else:
            self._gyro_rows(start, rows, out, slow)
        return out, slow

    def _acc_rows(
        self, rows: Sequence[Row | None], out: list[float | None], slow: list[float | None]
    ) -> None:
        for present in _runs(rows):
            if present is None:
                out.append(None)
                slow.append(None)
                self._filter.reset()
                self._slow.reset()
                continue
            first = not self._filter.seeded
            ys = self._filter.feed([(r[0], r[1], r[2]) for r in present])
            zs = self._slow.feed(ys)
            _jerk(ys, ys[0] if first else self._prev, self._rate, out)
            _jerk(zs, zs[0] if first else self._prev_slow, self._rate, slow)
            self._prev, self._prev_slow = ys[-1], zs[-1]

    def _gyro_rows(
        self,
        start: int,
        rows: Sequence[Row | None],
        out: list[float | None],
        slow: list[float | None],
    ) -> None:
        epoch = self._epoch
        idx = start
        for present in _runs(rows):
            if present is None:
                out.append(None)
                slow.append(None)
                self._filter.reset()
                self._slow.reset()
                self._spoiled = True
                idx += 1
                if idx % epoch == 0:
                    self._close_epoch()
                continue
            self._gyro_run(idx, present, out, slow)
            idx += len(present)

    def _gyro_run(
        self, idx: int, rows: Sequence[Row], out: list[float | None], slow: list[float | None]
    ) -> None:
        """Envelope and slow envelope of present rows from grid row `idx` on, appended
        to `out` and `slow`.

        The low-pass (Biquad3.feed's recursion for each of its two sections and the
        slow section, same operations in the same order) and the epoch statistics run
        in one loop on locals: this is the engine's innermost loop, once per row and side.
        """
        lp, lq, ls = self._lp1, self._lp2, self._slow
        if not lp.seeded:
            x = rows[0][3:6]
            lp.seed(x)
            g = lp.dc_gain  # the second section's input is the first one's steady output
            lq.seed((g * x[0], g * x[1], g * x[2]))
            g *= lq.dc_gain
            ls.seed((g * x[0], g * x[1], g * x[2]))
        b0, b1, b2, a1, a2 = lp.coef
        p0, p1, p2, q0, q1, q2 = lp.z
        e0, e1, e2, f1, f2 = lq.coef
        r0, r1, r2, s0_, s1_, s2_ = lq.z
        h0, h1, h2, k1, k2 = ls.coef
        u0, u1, u2, v0, v1, v2 = ls.z
        c0, c1, c2 = self.bias
        s0, s1, s2, s3, s4, s5 = self._sums
        # The epoch's row count is kept off the per-row path: `count` rows before this
        # run (or since the last close), plus `todo - left` rows of it done so far.
        count = self._count
        epoch = self._epoch
        left = todo = epoch - idx % epoch  # rows until the current epoch closes
        sqrt = math.sqrt
        for ax, ay, az, x0, x1, x2 in rows:
            y0 = b0 * x0 + p0
            y1 = b0 * x1 + p1
            y2 = b0 * x2 + p2
            p0 = b1 * x0 - a1 * y0 + q0
            p1 = b1 * x1 - a1 * y1 + q1
            p2 = b1 * x2 - a1 * y2 + q2
            q0 = b2 * x0 - a2 * y0
            q1 = b2 * x1 - a2 * y1
            q2 = b2 * x2 - a2 * y2
            w0 = e0 * y0 + r0
            w1 = e0 * y1 + r1
            w2 = e0 * y2 + r2
            r0 = e1 * y0 - f1 * w0 + s0_
            r1 = e1 * y1 - f1 * w1 + s1_
            r2 = e1 * y2 - f1 * w2 + s2_
            s0_ = e2 * y0 - f2 * w0
            s1_ = e2 * y1 - f2 * w1
            s2_ = e2 * y2 - f2 * w2
            y0, y1, y2 = w0, w1, w2
            d0, d1, d2 = y0 - c0, y1 - c1, y2 - c2
            out.append(sqrt(d0 * d0 + d1 * d1 + d2 * d2))
            w0 = h0 * y0 + u0
            w1 = h0 * y1 + u1
            w2 = h0 * y2 + u2
            u0 = h1 * y0 - k1 * w0 + v0
            u1 = h1 * y1 - k1 * w1 + v1
            u2 = h1 * y2 - k1 * w2 + v2
            v0 = h2 * y0 - k2 * w0
            v1 = h2 * y1 - k2 * w1
            v2 = h2 * y2 - k2 * w2
            d0, d1, d2 = w0 - c0, w1 - c1, w2 - c2
            slow.append(sqrt(d0 * d0 + d1 * d1 + d2 * d2))
            a = sqrt(ax * ax + ay * ay + az * az)
            s0 += y0
            s1 += y1
            s2 += y2
            s3 += y0 * y0 + y1 * y1 + y2 * y2
            s4 += a
            s5 += a * a
            left -= 1
            if not left:
                self._sums, self._count = [s0, s1, s2, s3, s4, s5], count + todo
                self._close_epoch()
                c0, c1, c2 = self.bias
                s0, s1, s2, s3, s4, s5 = self._sums
                count, left = self._count, epoch
                todo = epoch
        lp.z = (p0, p1, p2, q0, q1, q2)
        lq.z = (r0, r1, r2, s0_, s1_, s2_)
        ls.z = (u0, u1, u2, v0, v1, v2)
        self._sums, self._count = [s0, s1, s2, s3, s4, s5], count + todo - left

    def _new_epoch(self) -> None:
        self._sums = [0.0] * 6  # gyro sums (3), gyro sum of squares, |acc| sum and squares
        self._count = 0
        self._spoiled = False

    def _close_epoch(self) -> None:
        n, s = self._count, self._sums
        if n == self._epoch and not self._spoiled:
            mean = [s[0] / n, s[1] / n, s[2] / n]
            g_var = s[3] / n - (mean[0] ** 2 + mean[1] ** 2 + mean[2] ** 2)
            a_var = s[5] / n - (s[4] / n) ** 2
            if g_var < self._still_gyro and a_var < self._still_acc:
                w = self._bias_weight if self._bias_known else 1.0
                self.bias = [b + w * (m - b) for b, m in zip(self.bias, mean, strict=True)]
                self._bias_known = True
        self._new_epoch()


class _Chain:
    """Biquad3 sections in series (a higher-order SOS filter), seeded alike."""

    def __init__(self, sections: list[Biquad3]) -> None:
        self._sections = sections

    @property
    def seeded(self) -> bool:
        return self._sections[0].seeded

    def reset(self) -> None:
        for f in self._sections:
            f.reset()

    def feed(self, rows: list[Triple]) -> list[Triple]:
        for f in self._sections:
            rows = f.feed(rows)
        return rows


def _jerk(ys: list[Triple], prev: Triple, rate: float, out: list[float | None]) -> None:
    """|d/dt| of filtered acceleration rows, times `rate` (fs / g), appended to `out`."""
    for y in ys:
        d0, d1, d2 = y[0] - prev[0], y[1] - prev[1], y[2] - prev[2]
        out.append(math.sqrt(d0 * d0 + d1 * d1 + d2 * d2) * rate)
        prev = y


def _runs(rows: Sequence[Row | None]) -> list[list[Row] | None]:
    """Consecutive present rows grouped, each missing row as None, in order."""
    out: list[list[Row] | None] = []
    run: list[Row] = []
    for r in rows:
        if r is None:
            if run:
                out.append(run)
                run = []
            out.append(None)
        else:
            run.append(r)
    if run:
        out.append(run)
    return out
