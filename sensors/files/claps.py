"""The synchronisation gesture: three claps of both hands, found on each wrist.

A clap is an impact: the wrist's acceleration changes within a few milliseconds,
so the sample-to-sample change of acceleration (m/s^2 per sample, gravity and slow
movement cancel out) shows a sharp spike. Each wrist's three claps are the three
strongest such spikes in a row, 0.2-1.5 s apart, with nothing of their size nearby.
Both wrists see the same three impacts, so the mean difference of their times is
the offset of one device clock against the other, and the scatter of the three
differences (the residual) says how well the clocks now agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from sensors.types import FloatArray, ImuBlock

GAP_MIN = 0.2  # s between claps: faster than any person claps on purpose
GAP_MAX = 1.5  # s: slower is not one gesture
QUIET = 1.0  # s before the first and after the last clap with no spike half as big
PATTERN_TOLERANCE = 0.1  # s: the two wrists' gaps between claps may differ this much
NOISE_SIGMAS = 12.0  # a clap's spike stands this many robust SDs above the wrist's noise
MIN_SPIKE = 2.0  # m/s^2 per sample: smaller is not a clap, whatever the noise
# The onset estimator's two constants were chosen on synthetic claps (a 35 Hz ring-down
# decaying in 20 ms, sampled at 100 Hz at random phases; tests/sensors/files): of peak,
# parabolic peak and cross-correlated spike trains, a 20 % crossing of a 3-sample RMS
# envelope had the smallest offset error (3.8 ms RMS over 40 pairs, vs 5-7 ms).
ENVELOPE = 3  # samples in the spike envelope's moving RMS
ONSET = 0.2  # of the way from baseline to peak where an impact counts as begun


class ClapError(ValueError):
    """No usable clap pattern; the message says which wrist and why."""


@dataclass(frozen=True, slots=True)
class ClapFit:
    """The right wrist's clock minus the left's, from the claps.

    `offset` s (subtract it from the right wrist's times); `residual` s, the RMS of
    the three per-clap differences about the offset; `left`/`right` the clap times on
    each wrist's own clock.
    """

    offset: float
    residual: float
    left: tuple[float, float, float]
    right: tuple[float, float, float]


def _three(times: Iterable[float]) -> tuple[float, float, float]:
    a, b, c = times
    return (a, b, c)


def find_claps(block: ImuBlock) -> tuple[float, float, float]:
    """The spike peaks of the three claps on one wrist's clock; raises ClapError if none."""
    if len(block) < 10:
        raise ClapError("too few samples")
    mid, spike = _spikes(block)
    dt = float(np.median(np.diff(mid)))
    median = float(np.median(spike))
    sigma = 1.4826 * float(np.median(np.abs(spike - median)))
    floor = max(median + NOISE_SIGMAS * sigma, MIN_SPIKE)
    peaks, props = find_peaks(spike, height=floor, distance=max(1, int(0.1 / dt)))
    heights = props["peak_heights"]
    best: tuple[float, int] | None = None
    for k in range(len(peaks) - 2):
        times = mid[peaks[k : k + 3]]
        gaps = np.diff(times)
        if not ((gaps >= GAP_MIN) & (gaps <= GAP_MAX)).all():
            continue
        weakest = float(heights[k : k + 3].min())
        near = (mid[peaks] > times[0] - QUIET) & (mid[peaks] < times[2] + QUIET)
        near[k : k + 3] = False
        if (heights[near] >= 0.5 * weakest).any():
            continue
        if best is None or weakest > best[0]:
            best = (weakest, k)
    if best is None:
        found = len(peaks)
        raise ClapError(
            f"no three claps 0.2-1.5 s apart ({found} spike(s) above {floor:.1f} m/s^2 per sample)"
        )
    k = best[1]
    return _three(float(x) for x in mid[peaks[k : k + 3]])


def fit_claps(left: ImuBlock, right: ImuBlock) -> ClapFit:
    """The offset of the right wrist's clock from the left's; raises ClapError."""
    try:
        lc = find_claps(left)
    except ClapError as e:
        raise ClapError(f"left wrist: {e}") from None
    try:
        rc = find_claps(right)
    except ClapError as e:
        raise ClapError(f"right wrist: {e}") from None
    gaps_l, gaps_r = np.diff(lc), np.diff(rc)
    if np.abs(gaps_l - gaps_r).max() > PATTERN_TOLERANCE:
        shown = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(gaps_l, gaps_r, strict=True))
        raise ClapError(f"the claps differ between the wrists (gaps L/R {shown} s)")
    spikes_l, spikes_r = _spikes(left), _spikes(right)
    lc = _three(_onset(spikes_l, x) for x in lc)
    rc = _three(_onset(spikes_r, x) for x in rc)
    d = np.asarray(rc) - np.asarray(lc)
    offset = float(d.mean())
    residual = math.sqrt(float(np.mean((d - offset) ** 2)))
    return ClapFit(offset, residual, lc, rc)


def _spikes(block: ImuBlock) -> tuple[FloatArray, FloatArray]:
    """Times between samples and the size of the acceleration change there (m/s^2)."""
    spike = np.linalg.norm(np.diff(block.acc, axis=0), axis=1)
    return 0.5 * (block.t[1:] + block.t[:-1]), spike


def _onset(spikes: tuple[FloatArray, FloatArray], near: float) -> float:
    """When the impact near `near` s began: where the spike envelope's rising edge
    crosses ONSET of the way from the wrist's baseline to the impact's peak.

    Both wrists feel the impact begin at once, whereas each rings down in its own
    way, so the rising edge times an impact better than the peak does. The envelope
    is the RMS over ENVELOPE samples; between samples the crossing is linear.
    """
    mid, spike = spikes
    env = np.sqrt(np.convolve(spike**2, np.ones(ENVELOPE) / ENVELOPE, mode="same"))
    i0, i1 = np.searchsorted(mid, [near - 0.1, near + 0.1])
    seg = env[i0:i1]
    k = int(np.argmax(seg))
    level = float(np.median(env))
    threshold = level + ONSET * (float(seg[k]) - level)
    j = k
    while j > 0 and seg[j - 1] >= threshold:
        j -= 1
    if j == 0:
        return float(mid[i0 + k])
    a, b = float(seg[j - 1]), float(seg[j])
    x = (threshold - a) / (b - a)
    return float(mid[i0 + j - 1] + x * (mid[i0 + j] - mid[i0 + j - 1]))
