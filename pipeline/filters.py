"""Causal filters with carried state, and the per-side activity envelope."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import signal

from pipeline.align import BoolArray, SideChunk
from pipeline.config import EngineConfig
from sensors.types import FloatArray


class SosFilter:
    """A causal IIR filter in second-order sections over (n, channels) arrays.

    State is carried between calls, so any split of the input gives the output of
    one `scipy.signal.sosfilt` call on the whole. The state is seeded from the first
    sample as if that level had always been there, so start-up cannot fire a
    false onset.
    """

    def __init__(self, sos: FloatArray) -> None:
        self._sos = sos
        self._zi_unit = signal.sosfilt_zi(sos)  # (sections, 2): steady state for input 1
        self._zi: FloatArray | None = None

    def process(self, x: FloatArray) -> FloatArray:
        """Filter rows of `x` (n, channels) along time."""
        if x.shape[0] == 0:
            return x.copy()
        if self._zi is None:
            self.seed(x[0])
        y, self._zi = signal.sosfilt(self._sos, x, axis=0, zi=self._zi)
        return y

    def seed(self, x0: FloatArray) -> None:
        """Restart as if `x0` (channels,) had been the input forever."""
        self._zi = self._zi_unit[:, :, None] * x0[None, None, :]

    def reset(self) -> None:
        self._zi = None


class ActivityEnvelope:
    """Movement activity of one wrist, from its gyroscope or else its accelerometer.

    With a gyroscope: the low-passed angular rate minus its bias, as a vector
    magnitude (rad/s). The bias is the mean over epochs in which the wrist was
    still (both sensors quiet), so it follows drift without the long undershoot a
    high-pass filter leaves after every movement. Without one: the magnitude of
    the time derivative of the low-passed acceleration divided by g. Rotating the
    wrist turns gravity at |omega x g|, so this reads roughly in rad/s, needs no
    gravity estimate, and works whether gravity is in the signal or not.

    Rows that are not valid give 0 and the filter restarts from the first valid
    row after them, so a gap cannot leave a step behind that looks like a movement.
    Bias updates happen at epoch boundaries of the grid, so any split of the input
    gives the same envelope.
    """

    def __init__(self, cfg: EngineConfig, has_gyro: bool) -> None:
        cutoff = cfg.gyro_lowpass if has_gyro else cfg.acc_lowpass
        sos = np.asarray(signal.butter(2, cutoff, fs=cfg.fs, output="sos"))
        self._cfg = cfg
        self._has_gyro = has_gyro
        self._epoch = cfg.samples(cfg.baseline_epoch)
        self._filter = SosFilter(sos)
        self._prev: FloatArray | None = None  # last filtered row, for the derivative
        self._bias = np.zeros(3)
        self._bias_known = False
        self._sums = np.zeros(8)  # n, gyro sum (3), gyro sum of squares, acc stats (3)

    def process(self, start: int, chunk: SideChunk) -> FloatArray:
        """Envelope (n,) of grid rows [start, start + n); 0 where the row is not valid."""
        n = chunk.valid.shape[0]
        env = np.zeros(n)
        for a, b in _runs(chunk.valid):
            if a > 0 or self._prev is None:
                x0 = chunk.gyr[a] if chunk.gyr is not None else chunk.acc[a]
                self._filter.seed(x0)
                self._prev = None
            if self._has_gyro:
                assert chunk.gyr is not None
                env[a:b] = self._gyro_rows(start + a, chunk.gyr[a:b], chunk.acc[a:b])
            else:
                env[a:b] = self._acc_rows(chunk.acc[a:b])
        if n and not bool(chunk.valid[-1]):
            self._prev = None
        if self._has_gyro:
            self._end_epochs(start, chunk.valid)
        return env

    def reset(self) -> None:
        self._filter.reset()
        self._prev = None
        self._bias = np.zeros(3)
        self._bias_known = False
        self._sums = np.zeros(8)

    def _acc_rows(self, acc: FloatArray) -> FloatArray:
        y = self._filter.process(acc)
        prev = y[:1] if self._prev is None else self._prev[None, :]
        self._prev = y[-1].copy()
        dy = np.diff(np.vstack((prev, y)), axis=0) * (self._cfg.fs / _G)
        return _magnitude(dy)

    def _gyro_rows(self, start: int, gyr: FloatArray, acc: FloatArray) -> FloatArray:
        y = self._filter.process(gyr)
        self._prev = y[-1].copy()
        out = np.empty(y.shape[0])
        # the bias can change at an epoch boundary inside these rows
        for a, b in _epoch_spans(start, y.shape[0], self._epoch):
            out[a:b] = _magnitude(y[a:b] - self._bias)
            seg_acc = np.sqrt(np.einsum("ij,ij->i", acc[a:b], acc[a:b]))
            self._sums += np.concatenate(
                (
                    [b - a],
                    y[a:b].sum(axis=0),
                    [np.sum(y[a:b] ** 2)],
                    [seg_acc.sum(), np.sum(seg_acc**2), 0.0],
                )
            )
            if (start + b) % self._epoch == 0:
                self._close_epoch()
        return out

    def _end_epochs(self, start: int, valid: BoolArray) -> None:
        # An invalid row spoils its epoch for bias estimation.
        for idx in np.flatnonzero(~valid):
            self._sums[7] = 1.0
            if (start + int(idx) + 1) % self._epoch == 0:
                self._close_epoch()

    def _close_epoch(self) -> None:
        n, spoiled = self._sums[0], self._sums[7]
        if n == self._epoch and not spoiled:
            mean = self._sums[1:4] / n
            g_var = self._sums[4] / n - float(np.dot(mean, mean))
            a_mean = self._sums[5] / n
            a_var = self._sums[6] / n - a_mean**2
            still = g_var < self._cfg.still_gyro**2 and a_var < self._cfg.still_acc**2
            if still:
                w = self._cfg.bias_weight if self._bias_known else 1.0
                self._bias = self._bias + w * (mean - self._bias)
                self._bias_known = True
        self._sums = np.zeros(8)


_G = 9.80665  # m/s^2


def _epoch_spans(start: int, n: int, epoch: int) -> list[tuple[int, int]]:
    """[a, b) pieces of rows [start, start + n) that do not cross an epoch boundary."""
    cuts = [0]
    first = epoch - start % epoch
    cuts.extend(range(first, n, epoch))
    cuts.append(n)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def _magnitude(y: FloatArray) -> FloatArray:
    out: FloatArray = np.sqrt((y * y).sum(axis=1))
    return out


def _runs(valid: BoolArray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in `valid`."""
    padded = np.concatenate(([False], valid, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
