"""Smartwatch text exports in the PADS layout, one file per wrist.

PADS (Parkinson's Disease Smartwatch dataset, PhysioNet, doi:10.13026/m0w9-zx22)
recorded both wrists with Apple Watches and exports each as CSV without a header,
seven columns: time (s from the start of the task), acceleration x, y, z (g, gravity
removed) and rotation rate x, y, z (rad/s); the file is named
`<subject>_<task>_<LeftWrist|RightWrist>.txt`. Both watches' times start at the task
start, so the two files share that clock. A row that does not parse is skipped and
counted.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sensors.files.base import DeviceFileError, WristFile, wrist_block
from sensors.types import STANDARD_GRAVITY, Side

COLUMNS = 7
SKIP_ROW = "rows that are not 7 numbers"
_NAMED = re.compile(r"_(Left|Right)Wrist$", re.IGNORECASE)


def named_side(path: Path) -> Side | None:
    """The side a PADS-style file name says, None if it says none."""
    match = _NAMED.search(path.stem)
    if match is None:
        return None
    return Side.L if match.group(1).lower() == "left" else Side.R


def read_pads(path: Path, side: Side) -> WristFile:
    """One wrist from a PADS-style text file; raises DeviceFileError if nothing usable is in it."""
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DeviceFileError(path, f"not a text file (byte 0x{e.object[e.start]:02x})") from None
    except OSError as e:
        raise DeviceFileError(path, f"cannot open file ({e.strerror or e})") from None
    lines = [line for line in lines if line.strip()]
    skipped: dict[str, int] = {}
    rows = _parse(lines, skipped)
    if not len(rows):
        first = lines[0][:60] if lines else "nothing"
        raise DeviceFileError(
            path, f"no rows of 7 numbers (time, acc x/y/z g, gyro x/y/z rad/s); found {first!r}"
        )
    acc = rows[:, 1:4] * STANDARD_GRAVITY
    block = wrist_block(side, rows[:, 0], acc, rows[:, 4:7], skipped)
    if len(block) < 2:
        raise DeviceFileError(path, "fewer than two usable samples")
    fs = float(1.0 / np.median(np.diff(block.t)))
    return WristFile(path, "smartwatch (PADS text)", block, fs, False, skipped, named_side(path))


def _parse(lines: list[str], skipped: dict[str, int]) -> np.ndarray:
    try:
        rows = np.loadtxt(lines, delimiter=",", ndmin=2, comments=None)
        if rows.shape[1] == COLUMNS:
            return rows
    except ValueError:
        pass
    # Some rows are bad: parse one by one and count those that do not parse.
    good: list[list[float]] = []
    for line in lines:
        cells = line.split(",")
        try:
            if len(cells) != COLUMNS:
                raise ValueError
            good.append([float(c) for c in cells])
        except ValueError:
            skipped[SKIP_ROW] = skipped.get(SKIP_ROW, 0) + 1
    return np.array(good, dtype=np.float64).reshape(-1, COLUMNS)
