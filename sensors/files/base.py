"""What every device-file reader returns: one wrist's samples on that device's own clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensors.recording import ACC_MAX, GYR_MAX, RecordingError
from sensors.types import FloatArray, ImuBlock, Side

# Skip reasons shared by the readers (keys of WristFile.skipped).
SKIP_NONFINITE = "samples with NaN/inf"
SKIP_RANGE = "samples out of range"
SKIP_TIME = "samples with a repeated or backward timestamp"

# what the readers of vendor formats tell a user whose install lacks their library
INSTALL_DEVICES = "pip install 'mirrorwatch[devices]'"


class DeviceFileError(RecordingError):
    """A device file that cannot be read at all; `str(e)` is one line naming the file."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(path, None, message)


@dataclass(frozen=True, slots=True)
class WristFile:
    """One wrist's samples from a device file.

    `block.t` is seconds on the device's own clock: POSIX-style seconds of its
    real-time clock when `wall_clock` (CWA, GT3X: local time as the device kept it),
    seconds from the start of the task otherwise (PADS text). `block.acc` m/s^2,
    `block.gyr` rad/s or None. `fs` Hz is the device's nominal rate. `skipped` counts
    what was dropped as malformed, by reason (records, sectors or rows, as the reason
    says); `named_side` is the side the file names itself (PADS file name, GT3X
    info), None when it does not say; `notes` are the reader's own warnings.
    """

    path: Path
    device: str
    block: ImuBlock
    fs: float
    wall_clock: bool
    skipped: dict[str, int] = field(default_factory=dict)
    named_side: Side | None = None
    notes: tuple[str, ...] = ()

    @property
    def start(self) -> float:
        return float(self.block.t[0])

    @property
    def end(self) -> float:
        return float(self.block.t[-1])


def wrist_block(
    side: Side,
    t: FloatArray,
    acc: FloatArray,
    gyr: FloatArray | None,
    skipped: dict[str, int],
) -> ImuBlock:
    """Samples as a block: non-finite, implausible and non-increasing samples are dropped
    and counted into `skipped` (the same limits as recordings, sensors/recording.py)."""
    cols = [t[:, None], acc] + ([] if gyr is None else [gyr])
    rows = np.hstack(cols)
    finite = np.isfinite(rows).all(axis=1)
    plausible = (np.abs(acc) <= ACC_MAX).all(axis=1)
    if gyr is not None:
        plausible &= (np.abs(gyr) <= GYR_MAX).all(axis=1)
    _count(skipped, SKIP_NONFINITE, int(np.count_nonzero(~finite)))
    _count(skipped, SKIP_RANGE, int(np.count_nonzero(finite & ~plausible)))
    rows = rows[finite & plausible]
    # Stable: the first of equal times survives, as in recordings.
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    keep = np.concatenate(([True], rows[1:, 0] > rows[:-1, 0])) if len(rows) else np.ones(0, bool)
    _count(skipped, SKIP_TIME, int(np.count_nonzero(~keep)))
    rows = rows[keep]
    t_ok = np.ascontiguousarray(rows[:, 0])
    acc_ok = np.ascontiguousarray(rows[:, 1:4])
    gyr_ok = None if gyr is None else np.ascontiguousarray(rows[:, 4:7])
    return ImuBlock(side, t_ok, acc_ok, gyr_ok)


def _count(skipped: dict[str, int], reason: str, n: int) -> None:
    if n:
        skipped[reason] = skipped.get(reason, 0) + n
