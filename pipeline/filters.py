"""Causal filters with carried state, and the per-side activity envelope.

The engine sees a few rows per call, so these run on Python floats one row at
a time: cheaper than numpy's per-call cost at that size, and bit-identical
however the input is split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import signal

from pipeline.align import Row
from pipeline.config import EngineConfig
from sensors.types import FloatArray

G = 9.80665  # m/s^2


class SosFilter:
    """A causal IIR filter in second-order sections over `channels` parallel signals.

    State is carried between calls, so any split of the input gives the output of
    one `scipy.signal.sosfilt` call on the whole. `seed` starts it as if a level
    had always been there, so start-up cannot fire a false onset.
    """

    def __init__(self, sos: FloatArray, channels: int) -> None:
        sos = np.atleast_2d(np.asarray(sos, dtype=float))
        if sos.shape[1] != 6 or not np.allclose(sos[:, 3], 1.0):
            raise ValueError("sos must be (sections, 6) with a0 == 1")
        self._sections = [tuple(float(v) for v in s) for s in sos]
        self._unit = signal.sosfilt_zi(sos).tolist()  # steady state for a constant input of 1
        self._channels = channels
        self._z: list[list[float]] | None = None  # per section: z1 of each channel, then z2

    def seed(self, x0: Sequence[float]) -> None:
        """Restart as if `x0` (one value per channel) had been the input forever."""
        self._z = [[u1 * v for v in x0] + [u2 * v for v in x0] for u1, u2 in self._unit]

    def reset(self) -> None:
        self._z = None

    def step(self, x: Sequence[float]) -> list[float]:
        """Filter one row (one value per channel)."""
        if self._z is None:
            self.seed(x)
        assert self._z is not None
        c = self._channels
        y = list(x)
        for (b0, b1, b2, _, a1, a2), z in zip(self._sections, self._z, strict=True):
            for i in range(c):
                v = y[i]
                out = b0 * v + z[i]
                z[i] = b1 * v - a1 * out + z[c + i]
                z[c + i] = b2 * v - a2 * out
                y[i] = out
        return y

    def process(self, x: FloatArray) -> FloatArray:
        """Filter rows of `x` (n, channels) along time."""
        return np.array([self.step(row) for row in x.tolist()]).reshape(x.shape)


class ActivityEnvelope:
    """Movement activity of one wrist, from its gyroscope or else its accelerometer.

    With a gyroscope: the low-passed angular rate minus its bias, as a vector
    magnitude (rad/s). The bias is the mean over epochs in which the wrist was
    still (gyro and accelerometer both quiet), so it follows drift without the
    long undershoot a high-pass filter leaves after every movement. Without one:
    the magnitude of the time derivative of the low-passed acceleration over g.
    Turning the wrist turns gravity at |omega x g|, so this reads roughly in rad/s,
    needs no gravity estimate, and works whether gravity is in the signal or not.

    A missing row gives None and the filter restarts from the next present row,
    so a gap cannot leave a step behind that looks like a movement. The bias
    changes only at epoch boundaries of the grid.
    """

    def __init__(self, cfg: EngineConfig, has_gyro: bool) -> None:
        cutoff = cfg.gyro_lowpass if has_gyro else cfg.acc_lowpass
        sos = np.asarray(signal.butter(2, cutoff, fs=cfg.fs, output="sos"))
        self._has_gyro = has_gyro
        self._filter = SosFilter(sos, 3)
        self._rate = cfg.fs / G
        self._epoch = cfg.samples(cfg.baseline_epoch)
        self._still_gyro = cfg.still_gyro**2
        self._still_acc = cfg.still_acc**2
        self._bias_weight = cfg.bias_weight
        self.reset()

    def reset(self) -> None:
        self._filter.reset()
        self._restart = True  # the next present row re-seeds the filter
        self._prev: list[float] = []  # last filtered row, for the derivative
        self.bias = [0.0, 0.0, 0.0]
        self._bias_known = False
        self._new_epoch()

    def process(self, start: int, rows: Sequence[Row | None]) -> list[float | None]:
        """Envelope of grid rows [start, start + n); None where a row is missing."""
        out: list[float | None] = []
        gyro = self._has_gyro
        for j, row in enumerate(rows):
            if row is None:
                self._restart = True
                self._spoiled = True
                out.append(None)
            else:
                x = row[3:6] if gyro else row[0:3]
                if self._restart:
                    self._filter.seed(x)
                    self._restart = False
                    y = self._filter.step(x)
                    self._prev = y  # the derivative starts from rest
                else:
                    y = self._filter.step(x)
                out.append(self._gyro_value(y, row) if gyro else self._acc_value(y))
            if gyro and (start + j + 1) % self._epoch == 0:
                self._close_epoch()
        return out

    def _acc_value(self, y: list[float]) -> float:
        p = self._prev
        dx, dy, dz = y[0] - p[0], y[1] - p[1], y[2] - p[2]
        self._prev = y
        return math.sqrt(dx * dx + dy * dy + dz * dz) * self._rate

    def _gyro_value(self, y: list[float], row: Row) -> float:
        b = self.bias
        dx, dy, dz = y[0] - b[0], y[1] - b[1], y[2] - b[2]
        a = math.sqrt(row[0] * row[0] + row[1] * row[1] + row[2] * row[2])
        s = self._sums
        s[0] += y[0]
        s[1] += y[1]
        s[2] += y[2]
        s[3] += y[0] * y[0] + y[1] * y[1] + y[2] * y[2]
        s[4] += a
        s[5] += a * a
        self._count += 1
        return math.sqrt(dx * dx + dy * dy + dz * dz)

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
