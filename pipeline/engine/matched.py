"""Matched detection of a weak, delayed copy of the active hand's activity in the other.

A mirror movement below the other hand's rest noise has no peak a threshold can
see, but its shape is known: it follows the active hand's envelope, scaled down
and a little late. Projecting the other hand's envelope (rest level removed,
noise left signed so it averages out) on the active envelope at each allowed lag
gives the least-squares amplitude of the copy, and in units of the projection's
rest noise, a score that grows with the square root of the movement's energy
instead of being capped by the noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.engine.history import BoolArray
from sensors.types import FloatArray


@dataclass(frozen=True, slots=True)
class Copy:
    """The best-matching copy: `score` in rest-noise units, `ratio` its amplitude
    relative to the template, `lag` rows it follows the template (negative: leads)."""

    score: float
    ratio: float
    lag: int


def find_copy(
    template: FloatArray,
    other: FloatArray,
    valid: BoolArray,
    spread: float,
    lags: range,
    corr_rows: float,
    null: float = 0.0,
) -> Copy | None:
    """The lag in `lags` where `other` best matches `template`, None if nothing matches.

    `template` is the active hand's envelope above its rest level; `other` the other
    hand's envelope minus its rest level, same rows, `valid` where it has data;
    `spread` its rest noise (robust standard deviation of one row); `corr_rows` how
    many rows apart its rest noise becomes independent (its low-pass memory), which
    makes a projection noisier than white noise would; `null` the projection noise per
    unit of template norm measured on the other hand's own rest (see `null_noise`), when
    that is larger.
    """
    n = template.shape[0]
    if n == 0 or spread <= 0 or other.shape[0] != n or valid.shape[0] != n:
        return None
    y = np.where(valid, other, 0.0)
    noise = max(spread * math.sqrt(max(corr_rows, 1.0)), null)
    best: Copy | None = None
    for lag in lags:
        if abs(lag) >= n:
            continue
        if lag >= 0:
            x, yy, v = template[: n - lag], y[lag:], valid[lag:]
        else:
            x, yy, v = template[-lag:], y[: n + lag], valid[: n + lag]
        x = np.where(v, x, 0.0)  # rows where the other hand has no data say nothing
        energy = float(np.dot(x, x))
        if energy <= 0.0:
            continue
        projection = float(np.dot(x, yy))
        score = projection / (noise * math.sqrt(energy))
        if best is None or score > best.score:
            best = Copy(score, projection / energy, lag)
    return best


def null_noise(template: FloatArray, past: FloatArray, valid: BoolArray) -> float:
    """Robust spread of `template` projected on `past` at every shift, per unit norm.

    `past` is the other hand's envelope minus its rest level before the movement,
    `valid` where it has data; shifts touching a missing row are left out. What this
    measures is how large a projection the other hand's rest alone makes (0 when too
    little rest is there to say).
    """
    n = template.shape[0]
    norm = math.sqrt(float(np.dot(template, template)))
    if n == 0 or past.shape[0] < n + 8 or norm <= 0.0:
        return 0.0
    proj = np.correlate(np.where(valid, past, 0.0), template, mode="valid")
    holes = np.convolve((~valid).astype(float), np.ones(n), mode="valid")
    proj = proj[holes < 0.5]
    if proj.shape[0] < 8:
        return 0.0
    centre = float(np.median(proj))
    return 1.4826 * float(np.median(np.abs(proj - centre))) / norm
