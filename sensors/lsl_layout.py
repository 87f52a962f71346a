"""Which channels of an LSL or XDF stream are a wrist's acceleration and angular rate.

Pure (no liblsl): shared by the LSL inlet (sensors/lsl.py), the XDF reader
(sensors/xdf.py) and the publisher, which writes the layout it reads back. Channel
metadata follows the XDF meta-data conventions (desc/channels/channel: label, unit,
type; github.com/sccn/xdf/wiki/Meta-Data).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sensors.types import STANDARD_GRAVITY, FloatArray

# label, unit, type: what MirrorWatch publishes, one wrist per stream
CHANNELS = (
    ("ax", "m/s^2", "Accelerometer"),
    ("ay", "m/s^2", "Accelerometer"),
    ("az", "m/s^2", "Accelerometer"),
    ("gx", "rad/s", "Gyroscope"),
    ("gy", "rad/s", "Gyroscope"),
    ("gz", "rad/s", "Gyroscope"),
)
_ACC_UNITS = {"": 1.0, "m/s^2": 1.0, "m/s2": 1.0, "m/s²": 1.0, "g": STANDARD_GRAVITY}
_GYR_UNITS = {
    "": 1.0,
    "rad/s": 1.0,
    "deg/s": math.pi / 180,
    "dps": math.pi / 180,
    "°/s": math.pi / 180,
}


@dataclass(frozen=True, slots=True)
class Layout:
    """Column indices of acceleration (3) and angular rate (3, or None), and their
    factors to m/s^2 and rad/s."""

    acc: tuple[int, int, int]
    gyr: tuple[int, int, int] | None
    acc_scale: float = 1.0
    gyr_scale: float = 1.0

    def split(self, values: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        """(n, channels) values -> acceleration (n, 3) m/s^2, angular rate (n, 3) rad/s."""
        acc = values[:, list(self.acc)] * self.acc_scale
        if self.gyr is None:
            return acc, None
        gyr = values[:, list(self.gyr)] * self.gyr_scale
        if np.isnan(gyr).all():
            return acc, None  # an accelerometer-only wrist published with empty gyro channels
        return acc, gyr


def layout(count: int, labels: Sequence[str], units: Sequence[str]) -> Layout:
    """The layout of a stream of `count` channels with these labels and units (either
    may be empty when the stream has no channel metadata).

    Channels labelled ax..az (and gx..gz) are used wherever they are; otherwise the
    first three are acceleration and the next three, if there are six or more, angular
    rate. ValueError says what does not fit.
    """
    if count < 3:
        raise ValueError(f"{count} channel(s): a wrist stream needs 3 (acceleration) or 6")
    names = [x.strip().lower() for x in labels]
    if len(names) == count and {"ax", "ay", "az"} <= set(names):
        acc = (names.index("ax"), names.index("ay"), names.index("az"))
        has_gyr = {"gx", "gy", "gz"} <= set(names)
        gyr = (names.index("gx"), names.index("gy"), names.index("gz")) if has_gyr else None
    else:
        acc = (0, 1, 2)
        gyr = (3, 4, 5) if count >= 6 else None
    unit = [x.strip().lower() for x in units] if len(units) == count else [""] * count
    acc_scale = _scale(_ACC_UNITS, {unit[i] for i in acc}, "acceleration")
    gyr_scale = 1.0 if gyr is None else _scale(_GYR_UNITS, {unit[i] for i in gyr}, "angular rate")
    return Layout(acc, gyr, acc_scale, gyr_scale)


def _scale(known: dict[str, float], units: set[str], what: str) -> float:
    if len(units) == 1 and (only := next(iter(units))) in known:
        return known[only]
    choices = ", ".join(repr(u) for u in known if u)
    raise ValueError(f"{what} channels in unit(s) {sorted(units)}: expected one of {choices}")
