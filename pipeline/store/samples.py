"""Raw IMU samples in the spool: one row per sample, in arrival order per side.

Functions here run on the spool's connection inside its transactions; `Spool`
exposes them as `add_samples` and `samples`.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from sensors.types import ImuBlock, Side


class SampleError(ValueError):
    """A block that cannot be stored as it is (non-finite values, out of order)."""


def insert(db: sqlite3.Connection, session_id: str, blocks: Sequence[ImuBlock]) -> int:
    """Insert the blocks' samples (inside the caller's transaction); returns rows.

    Each block must continue its side's stored samples (later timestamps, gyro
    present or absent alike), so `read()` can always rebuild a valid block.
    """
    rows = 0
    last: dict[str, tuple[float, bool] | None] = {}
    for block in blocks:
        n = len(block)
        if n == 0:
            continue
        side = block.side.value
        if side not in last:
            row = db.execute(
                "SELECT t, gx IS NOT NULL FROM samples WHERE session_id = ? AND side = ?"
                " ORDER BY id DESC LIMIT 1",
                (session_id, side),
            ).fetchone()
            last[side] = None if row is None else (float(row[0]), bool(row[1]))
        db.executemany(
            "INSERT INTO samples (session_id, side, t, ax, ay, az, gx, gy, gz)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _rows(session_id, block, last[side]),
        )
        last[side] = (float(block.t[-1]), block.has_gyro)
        rows += n
    return rows


def read(db: sqlite3.Connection, session_id: str, side: Side) -> ImuBlock | None:
    """All stored samples of one side as one block, None if there are none."""
    rows = db.execute(
        "SELECT t, ax, ay, az, gx, gy, gz FROM samples"
        " WHERE session_id = ? AND side = ? ORDER BY id",
        (session_id, side.value),
    ).fetchall()
    if not rows:
        return None
    # NULL gyro cells become NaN; insert() keeps a side all-NULL or none.
    a = np.array(rows, dtype=np.float64)
    gyr = None if math.isnan(a[0, 4]) else a[:, 4:].copy()
    return ImuBlock(side=side, t=a[:, 0].copy(), acc=a[:, 1:4].copy(), gyr=gyr)


def _rows(
    session_id: str, block: ImuBlock, last: tuple[float, bool] | None
) -> Iterator[tuple[Any, ...]]:
    """Rows of one block, after checking it continues the side's stored samples."""
    side = block.side.value
    values = block.acc if block.gyr is None else np.hstack([block.acc, block.gyr])
    if not bool(np.isfinite(block.t).all() and np.isfinite(values).all()):
        # SQLite would store NaN as NULL and lose the difference silently.
        raise SampleError(f"non-finite sample values in a {side} block, not stored")
    t = block.t.tolist()
    if last is not None and t[0] <= last[0]:
        raise SampleError(
            f"{side} samples must continue after t={last[0]} s, block starts at {t[0]} s"
        )
    if last is not None and last[1] != block.has_gyro:
        raise SampleError(f"{side} blocks of one session must all have gyro or none")
    ax, ay, az = block.acc.T.tolist()
    if block.gyr is None:
        gx = gy = gz = list(repeat(None, len(t)))
    else:
        gx, gy, gz = block.gyr.T.tolist()
    return zip(repeat(session_id), repeat(side), t, ax, ay, az, gx, gy, gz, strict=False)
