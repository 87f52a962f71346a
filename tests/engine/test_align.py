"""Aligner: interpolation onto the grid, gaps, lost samples, a silent side."""

from __future__ import annotations

import math

import numpy as np

from pipeline.engine.align import AlignedChunk, Aligner, Row
from sensors.types import ImuBlock, Side

Grid = tuple[list[float], dict[Side, list[Row | None]]]


def _block(side: Side, t: np.ndarray, lost: int = 0) -> ImuBlock:
    v = t[:, None] * np.ones((1, 3))  # every channel reads the sample's time
    return ImuBlock(side=side, t=t, acc=v, gyr=v * 0.1, lost=lost)


def _collect(chunks: list[AlignedChunk | None], fs: float = 100.0) -> Grid:
    got = [c for c in chunks if c is not None]
    t = [k / fs for c in got for k in range(c.start, c.start + c.n)]
    rows = {s: [r for c in got for r in c.rows[s]] for s in Side}
    return t, rows


def _valid(rows: list[Row | None]) -> np.ndarray:
    return np.array([r is not None for r in rows])


def test_irregular_samples_are_interpolated_linearly() -> None:
    rng = np.random.default_rng(0)
    tl = np.cumsum(rng.uniform(0.006, 0.014, 200))
    tr = np.cumsum(rng.uniform(0.006, 0.014, 200))
    # whole sides fed one after the other: an offline aligner waits for both
    al = Aligner(fs=100.0, max_wait=math.inf, max_gap=0.05, max_gap_no_gyro=0.05)
    t, rows = _collect([al.feed(_block(Side.L, tl)), al.feed(_block(Side.R, tr)), al.flush()])
    tg = np.array(t)
    np.testing.assert_allclose(np.diff(tg), 0.01)
    inside = (tg >= max(tl[0], tr[0])) & (tg <= min(tl[-1], tr[-1]))
    for s in Side:
        assert _valid(rows[s])[inside].all()
        got = np.array([r[0] for r, ok in zip(rows[s], inside, strict=True) if ok])  # type: ignore[index]
        np.testing.assert_allclose(got, tg[inside], atol=1e-12)
        gyr = np.array([r[3] for r, ok in zip(rows[s], inside, strict=True) if ok])  # type: ignore[index]
        np.testing.assert_allclose(gyr, 0.1 * tg[inside], atol=1e-12)


def test_long_gaps_are_missing_short_losses_bridged() -> None:
    t = np.arange(0, 300) / 100.0
    keep = (t < 1.0) | (t >= 1.5)
    al = Aligner(fs=100.0, max_wait=math.inf, max_gap=0.05, max_gap_no_gyro=0.05)
    chunks = [
        al.feed(_block(Side.L, t[keep])),
        al.feed(_block(Side.R, t[:200])),
        al.feed(_block(Side.R, t[210:250], lost=10)),
        al.feed(_block(Side.R, t[253:], lost=3)),  # 40 ms span: bridged
        al.flush(),
    ]
    tl, rows = _collect(chunks)
    tg = np.array(tl)
    gap_l = (tg > 0.99 + 1e-9) & (tg < 1.5 - 1e-9)
    np.testing.assert_array_equal(_valid(rows[Side.L]), ~gap_l)
    lost_r = (tg > 1.99 + 1e-9) & (tg < 2.1 - 1e-9)
    np.testing.assert_array_equal(_valid(rows[Side.R]), ~lost_r)
    assert al.stats.lost[Side.R] == 13


def test_silent_side_becomes_missing_after_max_wait() -> None:
    al = Aligner(fs=100.0, max_wait=0.5, max_gap=0.05, max_gap_no_gyro=0.05)
    chunk = al.feed(_block(Side.L, np.arange(0, 200) / 100.0))
    assert chunk is not None
    assert (chunk.start + chunk.n - 1) / 100.0 < 2.0 - 0.5 + 1e-9  # waits max_wait
    assert all(r is not None for r in chunk.rows[Side.L])
    assert all(r is None for r in chunk.rows[Side.R])


def test_late_samples_are_counted_and_dropped() -> None:
    al = Aligner(fs=100.0, max_wait=1.0, max_gap=0.05, max_gap_no_gyro=0.05)
    t = np.arange(0, 100) / 100.0
    al.feed(_block(Side.L, t))
    al.feed(_block(Side.R, t))
    al.feed(_block(Side.L, t[50:60]))
    assert al.stats.late[Side.L] == 10


def test_any_split_gives_the_same_grid() -> None:
    rng = np.random.default_rng(5)
    t = np.cumsum(rng.uniform(0.008, 0.012, 600))
    whole = Aligner(100.0, math.inf, 0.05, 0.05)
    first = whole.feed(_block(Side.L, t))
    w = _collect([first, whole.feed(_block(Side.R, t)), whole.flush()])
    al = Aligner(100.0, 1.0, 0.05, 0.05)
    chunks = []
    for a in range(0, 600, 7):
        chunks.append(al.feed(_block(Side.L, t[a : a + 7])))
        chunks.append(al.feed(_block(Side.R, t[a : a + 7])))
    chunks.append(al.flush())
    assert _collect(chunks) == w


def test_a_lost_packet_is_bridged_with_a_gyro_but_not_without() -> None:
    t = np.arange(0, 100) / 100.0
    keep = (t < 0.5) | (t >= 0.54)  # one 4-sample packet lost: a 50 ms span
    acc = np.ones((int(keep.sum()), 3))
    al = Aligner(fs=100.0, max_wait=math.inf, max_gap=0.1, max_gap_no_gyro=0.04)
    chunks = [
        al.feed(_block(Side.L, t[keep])),  # with a gyro
        al.feed(ImuBlock(side=Side.R, t=t[keep], acc=acc, gyr=None, lost=4)),
        al.flush(),
    ]
    _, rows = _collect(chunks)
    assert all(r is not None for r in rows[Side.L])
    assert sum(r is None for r in rows[Side.R]) == 4
