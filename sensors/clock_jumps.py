"""Clock jumps back in a recording: a logger's clock set back or restarted mid-file.

A side whose rows run forward in time, step back (the clock set back or restarted
from zero) and run forward again over the same times is one recording with a clock
jump, not rows to shuffle together: sorting would interleave two stretches sample
by sample. Each such jump is undone: the later stretch continues one sample period
after the earlier one ends. A jump forward is a gap in the data and stays one.
"""

from __future__ import annotations

import numpy as np

from sensors.types import FloatArray

# A clock jump back: a step back in file order between two runs of at least _JUMP_RUN
# rows each going forward in time, where most of the later run's first _JUMP_PAIRS
# sample intervals hold earlier rows (a late block of rows fills its own hole instead).
# More than _MAX_JUMPS candidates per side means rows in any order: they are sorted.
_JUMP_RUN = 20
_JUMP_PAIRS = 50
_MAX_JUMPS = 100


def undo_clock_jumps(t: FloatArray) -> tuple[FloatArray, list[int]]:
    """One side's times in file order with each clock jump back undone, and the index
    of the first row after each jump."""
    if len(t) < 2 * _JUMP_RUN:
        return t, []
    steps = np.diff(t)
    back = np.flatnonzero(steps < 0) + 1  # the row after each step back
    bounds = np.concatenate(([0], back, [len(t)]))
    runs = np.diff(bounds)
    # a candidate: long runs on both sides of the step (bounds[i + 1] is its row)
    candidates = [
        i + 1 for i in range(len(back)) if runs[i] >= _JUMP_RUN and runs[i + 1] >= _JUMP_RUN
    ]
    if not candidates or len(candidates) > _MAX_JUMPS:
        return t, []
    positive = steps[steps > 0]
    period = float(np.median(positive)) if len(positive) else 0.0
    if not period > 0:
        return t, []
    undone = t.copy()
    starts: list[int] = []
    for k in candidates:
        start, stop = int(bounds[k]), int(bounds[k + 1])
        earlier = np.sort(undone[:start])
        head = undone[start : min(stop, start + _JUMP_PAIRS + 1)]
        # earlier rows in [head[i], head[i + 1]): sorting would interleave them
        inside = np.searchsorted(earlier, head[1:]) - np.searchsorted(earlier, head[:-1])
        if np.count_nonzero(inside) * 2 < len(inside):
            continue
        # everything from here on moves with this stretch of the clock
        undone[start:] += float(earlier[-1]) + period - undone[start]
        starts.append(start)
    return undone, starts
