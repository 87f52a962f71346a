"""Two wrists' device files on one clock, as a Recording the pipeline replays.

Each file keeps its own clock. Files with real-time clocks (CWA, GT3X) are put on one
clock by their timestamps; files that count from the task start (PADS text) already
share theirs. The optional clap gesture (sensors/files/claps.py) then measures what
is left of the offset between the two clocks, and the right wrist is moved by it.
Session time 0 is the first moment both wrists have data; samples outside the span
both cover are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sensors.files import read_wrist
from sensors.files.base import DeviceFileError, WristFile
from sensors.files.claps import ClapError, ClapFit, fit_claps
from sensors.recording import Recording
from sensors.types import FloatArray, ImuBlock, Side

MIN_OVERLAP = 1.0  # s both wrists must share


@dataclass(frozen=True, slots=True)
class PairClock:
    """How the two files were put on one clock.

    `start_gap` s: the right file's first sample minus the left's, by their own
    timestamps. `claps`: the clap fit when asked for, its offset already taken off the
    right wrist. `t0` the device-clock time (left wrist) of session time 0; `span` s
    of data both wrists cover.
    """

    start_gap: float
    claps: ClapFit | None
    t0: float
    span: float

    def describe(self) -> str:
        """One line for the terminal."""
        line = f"wrists on one clock by their timestamps (right starts {self.start_gap:+.3f} s)"
        if self.claps is not None:
            c = self.claps
            line += (
                f"; claps at {', '.join(f'{x - self.t0:.2f}' for x in c.left)} s move the right"
                f" wrist by {-c.offset * 1e3:+.1f} ms (residual {c.residual * 1e3:.1f} ms RMS"
                " over 3 claps)"
            )
        return line + f"; {self.span:.1f} s of both wrists"


@dataclass(frozen=True, slots=True)
class WristPair:
    """Both files as read, the Recording built from them, and how they were aligned."""

    left: WristFile
    right: WristFile
    recording: Recording
    clock: PairClock

    def skipped_lines(self) -> list[str]:
        """One line per file with malformed records or reader warnings."""
        lines = []
        for f in (self.left, self.right):
            if f.skipped:
                what = ", ".join(f"{n} {why}" for why, n in sorted(f.skipped.items()))
                lines.append(f"{f.path}: skipped {what}")
            if f.notes:
                lines.append(f"{f.path}: {len(f.notes)} reader warning(s), first: {f.notes[0]}")
        return lines


def read_pair(left_path: Path, right_path: Path, claps: bool = False) -> WristPair:
    """Read both wrists and put them on one clock; raises DeviceFileError (one line)."""
    left = read_wrist(left_path, Side.L)
    right = read_wrist(right_path, Side.R)
    for f, side, word in ((left, Side.L, "left"), (right, Side.R, "right")):
        if f.named_side is not None and f.named_side is not side:
            raise DeviceFileError(
                f.path,
                f"given as the {word} wrist but the file says {f.named_side.name}:"
                " give the left wrist's file first",
            )
    return pair(left, right, claps)


def pair(left: WristFile, right: WristFile, claps: bool = False) -> WristPair:
    """Put two wrists' files on one clock (see the module docstring)."""
    if left.wall_clock != right.wall_clock and not claps:
        raise DeviceFileError(
            right.path,
            "one file keeps a device clock, the other counts from the task start: only the"
            " clap gesture can align them (use the claps sync)",
        )
    fit = None
    shift = 0.0  # s added to the right wrist's times
    if left.wall_clock != right.wall_clock:
        shift = left.start - right.start  # a first guess; the claps decide
    if claps:
        try:
            fit = fit_claps(left.block, right.block)
        except ClapError as e:
            raise DeviceFileError(right.path, f"clap sync failed: {e}") from None
        shift = -fit.offset
    right_t = right.block.t + shift
    t0 = max(left.start, float(right_t[0]))
    t1 = min(left.end, float(right_t[-1]))
    if t1 - t0 < MIN_OVERLAP:
        raise DeviceFileError(
            right.path,
            f"the two wrists do not overlap in time (left {left.start:.1f}-{left.end:.1f} s,"
            f" right {right_t[0]:.1f}-{right_t[-1]:.1f} s on the left's clock)",
        )
    sides = {
        Side.L: _window(left.block, left.block.t, t0, t1),
        Side.R: _window(right.block, right_t, t0, t1),
    }
    fs = max(left.fs, right.fs)
    metadata = {
        "device": f"L={left.device}; R={right.device}",
        "fs": f"{fs:g}",
        "left": str(left.path),
        "right": str(right.path),
    }
    if left.wall_clock:
        # The device clock's time of session time 0 (as recordings say it: unix seconds).
        metadata["start"] = repr(t0)
    rows = sum(len(b) for b in sides.values())
    recording = Recording(left.path, metadata, sides, rows, 0, {}, ())
    clock = PairClock(right.start - left.start, fit, t0, t1 - t0)
    return WristPair(left, right, recording, clock)


def _window(block: ImuBlock, t: FloatArray, t0: float, t1: float) -> ImuBlock:
    """The block's samples within [t0, t1] of the shared clock (times `t`), on session time."""
    keep = (t >= t0) & (t <= t1)
    gyr = None if block.gyr is None else block.gyr[keep]
    return ImuBlock(block.side, t[keep] - t0, block.acc[keep], gyr)
