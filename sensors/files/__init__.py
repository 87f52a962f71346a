"""Recordings from research devices, one file per wrist (AX3/AX6, ActiGraph, PADS text).

`read_wrist(path, side)` reads one wrist's file, whatever its format, into a
WristFile (samples on the device's own clock, m/s^2 and rad/s, malformed records
counted); sensors/files/pair.py puts two of them on one clock as a Recording.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sensors.files.base import DeviceFileError, WristFile
from sensors.files.cwa import read_cwa
from sensors.files.gt3x import read_gt3x
from sensors.files.pads import read_pads
from sensors.types import Side

__all__ = ["READERS", "DeviceFileError", "WristFile", "is_wrist_file", "read_wrist"]

READERS: dict[str, Callable[[Path, Side], WristFile]] = {
    ".cwa": read_cwa,
    ".gt3x": read_gt3x,
    ".txt": read_pads,
}
"""Readers by file suffix (lower case)."""


def is_wrist_file(path: Path) -> bool:
    """Whether `path` names a one-wrist device file (by its suffix)."""
    return path.suffix.lower() in READERS


def read_wrist(path: Path, side: Side) -> WristFile:
    """One wrist's samples from a device file; raises DeviceFileError (one line) if unusable."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(READERS)
        raise DeviceFileError(path, f"not a wrist device file: expected one of {known}")
    if not path.is_file():
        raise DeviceFileError(path, "file not found" if not path.exists() else "not a file")
    return reader(path, side)
