"""Aligner: interpolation onto the grid, gaps, lost samples, a silent side."""

from __future__ import annotations

import math

import numpy as np

from pipeline.align import AlignedChunk, Aligner
from sensors.types import ImuBlock, Side


def _block(side: Side, t: np.ndarray, value: np.ndarray | None = None, lost: int = 0) -> ImuBlock:
    v = t[:, None] * np.ones((1, 3)) if value is None else value
    return ImuBlock(side=side, t=t, acc=v, gyr=v * 0.1, lost=lost)


Grid = tuple[np.ndarray, dict[Side, np.ndarray], dict[Side, np.ndarray]]


def _collect(chunks: list[AlignedChunk | None]) -> Grid:
    got = [c for c in chunks if c is not None]
    t = np.concatenate([c.t for c in got])
    acc = {s: np.vstack([c.sides[s].acc for c in got]) for s in Side}
    valid = {s: np.concatenate([c.sides[s].valid for c in got]) for s in Side}
    return t, acc, valid


def test_irregular_samples_are_interpolated_linearly() -> None:
    rng = np.random.default_rng(0)
    tl = np.cumsum(rng.uniform(0.006, 0.014, 200))
    tr = np.cumsum(rng.uniform(0.006, 0.014, 200))
    # whole sides fed one after the other: an offline aligner waits for both
    al = Aligner(fs=100.0, max_wait=math.inf, max_gap=0.05)
    chunks = [al.process(_block(Side.L, tl)), al.process(_block(Side.R, tr)), al.flush()]
    t, acc, valid = _collect(chunks)
    np.testing.assert_allclose(np.diff(t), 0.01)
    inside = (t >= max(tl[0], tr[0])) & (t <= min(tl[-1], tr[-1]))
    for s in Side:
        assert valid[s][inside].all()
        np.testing.assert_allclose(acc[s][inside, 0], t[inside], atol=1e-12)  # value = time


def test_gap_and_lost_samples_are_missing_not_bridged() -> None:
    t = np.arange(0, 300) / 100.0
    keep = (t < 1.0) | (t >= 1.5)
    al = Aligner(fs=100.0, max_wait=math.inf, max_gap=0.05)
    chunks = [
        al.process(_block(Side.L, t[keep])),
        al.process(_block(Side.R, t[:200])),
        al.process(_block(Side.R, t[210:], lost=10)),
        al.flush(),
    ]
    tg, _, valid = _collect(chunks)
    gap_l = (tg > 0.99 + 1e-9) & (tg < 1.5 - 1e-9)
    assert not valid[Side.L][gap_l].any()
    assert valid[Side.L][~gap_l].all()
    lost_r = (tg > 1.99 + 1e-9) & (tg < 2.1 - 1e-9)
    assert not valid[Side.R][lost_r].any()
    assert valid[Side.R][~lost_r].all()
    assert al.stats.lost[Side.R] == 10


def test_silent_side_becomes_missing_after_max_wait() -> None:
    al = Aligner(fs=100.0, max_wait=0.5, max_gap=0.05)
    t = np.arange(0, 200) / 100.0
    chunk = al.process(_block(Side.L, t))
    assert chunk is not None
    assert chunk.t[-1] < 2.0 - 0.5 + 1e-9  # waits max_wait for the other side
    assert chunk.sides[Side.L].valid.all()
    assert not chunk.sides[Side.R].valid.any()


def test_late_samples_are_counted_and_dropped() -> None:
    al = Aligner(fs=100.0, max_wait=1.0, max_gap=0.05)
    t = np.arange(0, 100) / 100.0
    al.process(_block(Side.L, t))
    al.process(_block(Side.R, t))
    al.process(_block(Side.L, t[50:60]))
    assert al.stats.late[Side.L] == 10


def test_any_split_gives_the_same_grid() -> None:
    rng = np.random.default_rng(5)
    t = np.cumsum(rng.uniform(0.008, 0.012, 600))
    whole = Aligner(100.0, math.inf, 0.05)
    first = whole.process(_block(Side.L, t))
    w = _collect([first, whole.process(_block(Side.R, t)), whole.flush()])
    al = Aligner(100.0, 1.0, 0.05)
    chunks = []
    for a in range(0, 600, 7):
        chunks.append(al.process(_block(Side.L, t[a : a + 7])))
        chunks.append(al.process(_block(Side.R, t[a : a + 7])))
    chunks.append(al.flush())
    p = _collect(chunks)
    np.testing.assert_array_equal(p[0], w[0])
    for s in Side:
        np.testing.assert_array_equal(p[1][s], w[1][s])
        np.testing.assert_array_equal(p[2][s], w[2][s])
