"""Recordings whose clock jumps back, restarts at zero, stalls or jumps ahead.

Rows may come in any order (DESIGN.md §4), so reading sorts each side by time. A side
whose rows run forward, step back over times already seen and run forward again is a
clock jump: sorting would interleave the two stretches sample by sample. Here `ax`
carries each row's sample index / 100, so where every sample ended up is visible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sensors.recording import read_recording
from sensors.types import Side

FS = 100.0


def _rows(side: str, t: np.ndarray, first: int = 0) -> list[str]:
    # ax = index / 100, within the plausible range
    return [f"{x:.4f},{side},{(first + i) / 100:.2f},9.81,0,0,0,0\n" for i, x in enumerate(t)]


def _write(path: Path, *parts: list[str]) -> Path:
    path.write_text("# fs: 100\nt,side,ax,ay,az,gx,gy,gz\n" + "".join(r for p in parts for r in p))
    return path


def _grid(t0: float, seconds: float) -> np.ndarray:
    return t0 + np.arange(round(seconds * FS)) / FS


def _index(block_acc: np.ndarray) -> list[int]:
    return [round(x * 100) for x in block_acc[:, 0]]


@pytest.mark.parametrize(("label", "restart_at"), [("to zero", 0.0), ("back 2 s", 28.0)])
def test_clock_jump_back_is_undone_and_counted(
    tmp_path: Path, label: str, restart_at: float
) -> None:
    before, after = _grid(0.0, 30.0), _grid(restart_at, 20.0) + 0.003  # another phase too
    path = _write(
        tmp_path / "jump.csv",
        _rows("L", before),
        _rows("L", after, first=len(before)),
        _rows("R", _grid(0.0, 50.0)),
    )
    rec = read_recording(path)
    assert rec.clock_jumps == 1, label
    assert rec.clock_jump_lines == (3 + len(before),)  # metadata, header, then the rows
    assert rec.skipped == 0
    left = rec.sides[Side.L]
    # every sample kept, in the order taken: the later stretch follows the earlier one
    assert _index(left.acc) == list(range(len(before) + len(after)))
    assert np.all(np.diff(left.t) > 0)
    assert left.t[len(before)] == pytest.approx(before[-1] + 1 / FS)
    np.testing.assert_allclose(np.diff(left.t), 1 / FS, atol=1e-6)
    np.testing.assert_array_equal(rec.sides[Side.R].t, _grid(0.0, 50.0).round(4))


def test_two_restarts_and_both_sides(tmp_path: Path) -> None:
    a, b, c = _grid(0.0, 10.0), _grid(0.0, 5.0), _grid(0.0, 5.0)
    parts = []
    for side in "LR":
        parts += [_rows(side, a), _rows(side, b, len(a)), _rows(side, c, len(a) + len(b))]
    rec = read_recording(_write(tmp_path / "two.csv", *parts))
    assert rec.clock_jumps == 4
    for block in rec.sides.values():
        assert _index(block.acc) == list(range(2000))
        np.testing.assert_allclose(block.t, _grid(0.0, 20.0), atol=1e-6)


def test_stalled_clock_repeats_are_skipped_as_duplicates(tmp_path: Path) -> None:
    t = _grid(0.0, 20.0)
    stalled = np.where((t >= 10.0) & (t < 12.0), 10.0, t)  # 2 s of rows stamped 10.0
    rec = read_recording(_write(tmp_path / "stall.csv", _rows("L", stalled)))
    assert rec.skip_reasons == {"duplicate timestamp": 199}
    assert rec.clock_jumps == 0
    left = rec.sides[Side.L]
    assert np.all(np.diff(left.t) > 0)
    assert len(left) == len(t) - 199


def test_jump_ahead_is_a_gap(tmp_path: Path) -> None:
    t = np.concatenate((_grid(0.0, 10.0), _grid(3610.0, 10.0)))
    rec = read_recording(_write(tmp_path / "ahead.csv", _rows("L", t)))
    assert (rec.clock_jumps, rec.skipped) == (0, 0)
    np.testing.assert_allclose(rec.sides[Side.L].t, t, atol=1e-6)


def test_rows_out_of_order_are_not_clock_jumps(tmp_path: Path) -> None:
    # blocks of 4 rows arriving up to 3 s late, a 5 s stretch written after the next
    # one, two rows swapped: all fill their own holes, and are sorted into them
    rng = np.random.default_rng(1)
    t = _grid(0.0, 60.0)
    order = np.arange(len(t))
    for start in rng.choice(len(t) // 4, 40, replace=False) * 4:
        block = order[start : start + 4].copy()
        order = np.delete(order, np.arange(start, start + 4))
        at = min(len(order), start + int(rng.integers(8, 300)))
        order = np.insert(order, at, block)
    stretch = (order >= 2000) & (order < 2500)
    order = np.concatenate((order[~stretch][:2700], order[stretch], order[~stretch][2700:]))
    order[[100, 101]] = order[[101, 100]]
    rows = _rows("L", t)
    rec = read_recording(_write(tmp_path / "order.csv", [rows[i] for i in order]))
    assert rec.clock_jumps == 0
    left = rec.sides[Side.L]
    assert _index(left.acc) == list(range(len(t)))
    np.testing.assert_allclose(left.t, t, atol=1e-6)
