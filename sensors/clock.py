"""Sensor ticks -> session seconds, per sensor, online (firmware_notes/timing.md).

Model: a packet whose last sample the sensor took at sensor time s (seconds since the
clock's epoch) arrives at session time a = offset + rate * s + d, with a delay d >= 0
that jitters by tens of ms (the radio waits for the next connection event, several
notifications ride one event, the host schedules late). Averaging a - s would keep the
mean delay as a bias; the smallest delays are nearly zero, so the line under all points
(the minimum-delay envelope) is the estimate: among lines with every point on or above
them, the one closest to the points on average (Moon, Skelly & Towsley 1999). That line
runs along the lower convex hull; the optimal edge is the one above the points' mean s.

Cost: points are reduced to the lowest one per `bin_width` of sensor time, kept for
`window` seconds, and the line is refitted when a bin opens or a point falls below it.
The rate is bounded by `max_drift_ppm` so a short baseline cannot produce a wild slope.

Tick wrap-around is undone with the host's elapsed time choosing the number of wraps.
A new epoch (all points dropped) starts when the sensor says its clock restarted, when
the tick rate changes, or when sensor and host elapsed times disagree by more than
`max_disagreement` (a backwards jump, a reboot without the flag, a forward jump); the
new epoch is anchored on the packet's arrival, so the data after it is kept. `restarts`
counts each cause.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from sensors.types import FloatArray

__all__ = ["ClockEstimate", "ClockRestarts", "SensorClock"]


@dataclass(frozen=True, slots=True)
class ClockRestarts:
    """New epochs after the first, by cause.

    `flagged`: the sensor said its clock restarted (reboot); `rate`: the tick rate
    changed; `backward`: ticks went back (a jump back, or a reset to zero without the
    flag); `forward`: ticks ran ahead of host time by more than the tolerance.
    """

    flagged: int = 0
    rate: int = 0
    backward: int = 0
    forward: int = 0

    @property
    def total(self) -> int:
        return self.flagged + self.rate + self.backward + self.forward


@dataclass(frozen=True, slots=True)
class ClockEstimate:
    """The current line: session seconds = `offset` + `rate` * sensor seconds of the epoch.

    `bins` points in the fit over `span` sensor seconds; `epoch` counts clock restarts
    (0 for the first clock seen).
    """

    offset: float
    rate: float
    bins: int
    span: float
    epoch: int

    @property
    def drift_ppm(self) -> float:
        """How fast the sensor clock runs against the host, parts per million (+: fast)."""
        return (1.0 / self.rate - 1.0) * 1e6


class SensorClock:
    """Online offset and drift of one sensor's clock against the session clock.

    `tick_modulus`: where the raw tick wraps (None: never); `max_drift_ppm` bounds the
    rate; `window` s of sensor time kept; `bin_width` s per envelope point;
    `max_disagreement` s between sensor and host elapsed time before a restart is declared
    (larger than any stall a link survives: packets queued during a stall arrive late).
    """

    __slots__ = (
        "_base",
        "_bin_width",
        "_bins",
        "_causes",
        "_epoch",
        "_last_arrival",
        "_last_tick",
        "_max_bins",
        "_max_disagreement",
        "_max_drift",
        "_modulus",
        "_offset",
        "_rate",
        "_tick_hz",
        "_unwrapped",
    )

    def __init__(
        self,
        *,
        tick_modulus: int | None = 1 << 32,
        max_drift_ppm: float = 200.0,
        window: float = 300.0,
        bin_width: float = 1.0,
        max_disagreement: float = 5.0,
    ) -> None:
        if tick_modulus is not None and tick_modulus < 2:
            raise ValueError("tick_modulus must be >= 2 or None")
        if not (max_drift_ppm > 0 and window > 0 and bin_width > 0 and max_disagreement > 0):
            raise ValueError("max_drift_ppm, window, bin_width, max_disagreement must be > 0")
        self._modulus = tick_modulus
        self._max_drift = max_drift_ppm * 1e-6
        self._max_bins = max(2, math.ceil(window / bin_width))
        self._bin_width = bin_width
        self._max_disagreement = max_disagreement
        # (bin index, sensor s, arrival) of the lowest-delay point per bin, oldest first
        self._bins: deque[tuple[int, float, float]] = deque()
        self._epoch = -1
        self._tick_hz = 0.0
        self._base = 0  # unwrapped tick at the epoch's start
        self._unwrapped = 0
        self._last_tick = 0
        self._last_arrival = 0.0
        self._offset = 0.0
        self._rate = 1.0
        self._causes = [0, 0, 0, 0]  # as ClockRestarts' fields

    @property
    def restarts(self) -> ClockRestarts:
        """New epochs after the first, by cause (their sum is `epoch`)."""
        return ClockRestarts(*self._causes)

    @property
    def tick_hz(self) -> float:
        """The tick rate of the current epoch (0 before the first observation)."""
        return self._tick_hz

    @property
    def epoch(self) -> int:
        """Clock restarts seen: -1 before the first observation, then 0, 1, ..."""
        return self._epoch

    @property
    def estimate(self) -> ClockEstimate:
        span = self._bins[-1][1] - self._bins[0][1] if self._bins else 0.0
        return ClockEstimate(self._offset, self._rate, len(self._bins), span, self._epoch)

    def observe(
        self,
        tick: int,
        tick_hz: float,
        arrival: float,
        *,
        lead: float = 0.0,
        restarted: bool = False,
        fit: bool = True,
    ) -> float:
        """Register a packet; return the sensor seconds (this epoch) of `tick`.

        `tick` raw counter of the packet's first sample, `tick_hz` its rate, `arrival`
        session seconds of reception, `lead` sensor seconds from `tick` to the packet's
        last sample (the packet cannot leave before it), `restarted` the sensor's flag.
        `fit` False: the tick is the caller's estimate, not the sensor's; it moves the
        clock on but is no point of the envelope.
        """
        if self._epoch < 0:
            step, cause = None, -1
        elif restarted:
            step, cause = None, 0
        elif tick_hz != self._tick_hz:
            step, cause = None, 1
        else:
            step, cause = self._step(tick, arrival)
        if step is None:
            if cause >= 0:
                self._causes[cause] += 1
            self._epoch += 1
            self._tick_hz = tick_hz
            self._base = self._unwrapped = tick
            self._bins.clear()
        else:
            self._unwrapped += step
        self._last_tick, self._last_arrival = tick, arrival
        s = (self._unwrapped - self._base) / tick_hz
        if fit or not self._bins:
            self._add(s + lead, arrival)
        return s

    def to_session(self, sensor_s: FloatArray) -> FloatArray:
        """Sensor seconds of the current epoch -> session seconds."""
        return self._offset + self._rate * sensor_s

    def _step(self, tick: int, arrival: float) -> tuple[int | None, int]:
        """Unwrapped tick advance since the last packet; or None and the restart's cause
        (2: the sensor's time went back or fell behind the host's, 3: it ran ahead)."""
        elapsed = arrival - self._last_arrival
        step = back = tick - self._last_tick
        if self._modulus is not None:
            step %= self._modulus
            back = step - self._modulus  # the same tick read as a step back
            wraps = round((elapsed * self._tick_hz - step) / self._modulus)
            step += max(0, wraps) * self._modulus
        tolerance = self._max_disagreement + self._max_drift * abs(elapsed)
        ahead = step / self._tick_hz - elapsed
        if step >= 0 and abs(ahead) <= tolerance:
            return step, -1
        if step < 0 or ahead < 0 or abs(back / self._tick_hz - elapsed) < ahead:
            return None, 2
        return None, 3

    def _add(self, s: float, arrival: float) -> None:
        index = math.floor(s / self._bin_width)
        below = arrival < self._offset + self._rate * s
        if self._bins and index <= self._bins[-1][0]:
            last, s0, a0 = self._bins[-1]
            if arrival - s < a0 - s0:
                self._bins[-1] = (last, s, arrival)
            if below:
                self._fit()
            return
        self._bins.append((index, s, arrival))
        while index - self._bins[0][0] >= self._max_bins:
            self._bins.popleft()
        self._fit()

    def _fit(self) -> None:
        pts = np.array(self._bins, dtype=np.float64)
        pts = pts[np.argsort(pts[:, 1], kind="stable")]
        s, a = pts[:, 1], pts[:, 2]
        if len(s) == 1:
            self._rate = 1.0
            self._offset = float(a[0] - s[0])
            return
        # Work relative to the first point: differences of large session times lose digits.
        s0, a0 = float(s[0]), float(a[0])
        x, y = s - s0, a - a0
        hull = _lower_hull(x, y)
        k = int(np.searchsorted(x[hull], float(np.mean(x)), side="right"))
        edge = min(max(k - 1, 0), len(hull) - 2)
        i, j = hull[edge], hull[edge + 1]
        rate = (y[j] - y[i]) / (x[j] - x[i]) if x[j] > x[i] else 1.0
        # For a fixed rate the best line touches the lowest point; the objective is concave
        # in the rate, so clipping the unconstrained optimum gives the constrained one.
        rate = min(max(rate, 1.0 - self._max_drift), 1.0 + self._max_drift)
        intercept = float(np.min(y - rate * x))
        self._rate = float(rate)
        self._offset = a0 + intercept - self._rate * s0


def _lower_hull(x: FloatArray, y: FloatArray) -> list[int]:
    """Indices of the lower convex hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[int] = []
    for k in range(len(x)):
        while len(hull) >= 2:
            o, p = hull[-2], hull[-1]
            if (x[p] - x[o]) * (y[k] - y[o]) - (y[p] - y[o]) * (x[k] - x[o]) > 0:
                break
            hull.pop()
        hull.append(k)
    return hull
