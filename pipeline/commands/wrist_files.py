"""A pair of research-device files, one per wrist, as `analyze` and `--source` take them.

`analyze LEFT RIGHT [--sync claps]`; `--source LEFT,RIGHT` or `--source claps:LEFT,RIGHT`
(the clap gesture refines the clocks). Formats: sensors/files/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.commands import UsageError
from sensors.files import READERS, is_wrist_file
from sensors.files.pair import WristPair, read_pair
from sensors.recording import Recording

CLAPS_PREFIX = "claps:"


def read_wrist_pair(left: Path, right: Path | None, claps: bool) -> Recording:
    """Both wrists on one clock as a Recording; what was skipped and how the clocks were
    aligned go to stderr. Raises UsageError or DeviceFileError (one line)."""
    return read_wrist_files(left, right, claps).recording


def read_wrist_files(left: Path, right: Path | None, claps: bool) -> WristPair:
    """`read_wrist_pair`, keeping how the clocks were aligned (for the session's meta)."""
    if right is None:
        raise UsageError(
            f"{left}: a {left.suffix} file holds one wrist: give the left and the right file"
        )
    for path in (left, right):
        if not is_wrist_file(path):
            known = ", ".join(READERS)
            raise UsageError(f"{path}: not a wrist device file ({known})")
    pair = read_pair(left, right, claps)
    _tell(pair)
    return pair


def pair_spec(spec: str) -> tuple[Path, Path, bool] | None:
    """`LEFT,RIGHT` or `claps:LEFT,RIGHT` of device files as (left, right, claps); None
    when `spec` is not such a pair."""
    claps = spec.startswith(CLAPS_PREFIX)
    parts = spec.removeprefix(CLAPS_PREFIX).split(",")
    if len(parts) != 2 or not all(is_wrist_file(Path(p.strip())) for p in parts):
        return None
    return Path(parts[0].strip()), Path(parts[1].strip()), claps


def _tell(pair: WristPair) -> None:
    for line in pair.skipped_lines():
        print(f"mirrorwatch: {line}", file=sys.stderr)
    print(f"mirrorwatch: {pair.clock.describe()}", file=sys.stderr)
