"""The spool's writer round after round on a real 3 MB tmpfs (issue 16), without the engine.

A monitor at full speed hands its writer rounds of up to 8192 raw samples (two
slices) and an event now and then. Once the disk is short, every slice is stored
by dropping the oldest samples first. The session must never end as "disk full"
while raw samples are left to drop, and every event must be kept.

Seeded rounds of random size, as the real writer sees them. With the old room
rule (free pages inside the spool counted as room for the WAL, and a drop of any
size in one transaction, each dropped page written into the WAL) both seeds
ended as disk full, seed 1 at round 223 and seed 2 at round 35; a 2-hour
monitor on 3 MB ended that way in about one run of four.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from hostfs import query, tmpfs

from pipeline.engine.events import Kind, MovementEvent
from pipeline.store import disk, writer
from pipeline.store.outbox import Stream
from pipeline.store.spool import Spool
from pipeline.store.write_queue import WriteQueue
from sensors.types import ImuBlock, Side

ROUNDS = 300
BLOCK = 4  # samples per block, as the simulated wrists send them


def _event(t: float) -> MovementEvent:
    return MovementEvent(
        t_onset=t,
        t_offset=round(t + 0.5, 3),
        active=Side.R,
        kind=Kind.MIRROR,
        mirror_ratio=0.2,
        lag_ms=40.0,
        coupling=0.8,
        grade=2,
        peak_active=2.0,
        peak_contra=0.4,
        completeness={Side.L: 1.0, Side.R: 1.0},
        detected_at=round(t + 0.1, 3),
        decided_at=round(t + 0.6, 3),
    )


class _Wrists:
    """Blocks of two wrists at 100 Hz with seeded random values."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.t = {Side.L: 0.0, Side.R: 0.0}

    def blocks(self, n: int) -> list[ImuBlock]:
        out = []
        for k in range(n):
            side = Side.L if k % 2 == 0 else Side.R
            t = self.t[side] + 0.01 * np.arange(1, BLOCK + 1, dtype=np.float64)
            self.t[side] = float(t[-1])
            acc, gyr = self.rng.normal(size=(2, BLOCK, 3))
            out.append(ImuBlock(side=side, t=t, acc=acc, gyr=gyr, seq=0, lost=0))
        return out


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", [1, 2])
def test_rounds_of_raw_samples_on_3_mb_never_end_as_disk_full(tmp_path: Path, seed: int) -> None:
    with tmpfs(tmp_path / "card", "3m") as card:
        path = card / "data" / "spool.sqlite"
        spool = Spool(path)
        try:
            sid = spool.start_session(
                subject="p01", source="simulated", mode="monitor", started_at=time.time()
            ).id
            assert spool.guard.make_reserve()
            wrists = _Wrists(seed)
            room = writer.Room()
            queue = WriteQueue(sid)
            events: list[float] = []
            samples = wal_max = 0
            started = time.monotonic()
            for r in range(ROUNDS):
                # up to the 2 * COMMIT_SAMPLES a source that waits for the store lets queue
                n = int(wrists.rng.integers(1, 2 * writer.COMMIT_SAMPLES // BLOCK + 1))
                for block in wrists.blocks(n):
                    queue.samples(block)
                samples += n * BLOCK
                if r % 5 == 0:
                    events.append(wrists.t[Side.L])
                    queue.events([_event(events[-1])])
                try:
                    writer.commit(spool, sid, queue.take(), wrists.t[Side.L], 0, room)
                except writer.DiskFull as exc:
                    pytest.fail(f"round {r}: {exc}; {disk.describe(path)}")
                wal_max = max(wal_max, disk.wal_bytes(path))
                assert not room.last_resort, f"round {r}: disk full, {disk.describe(path)}"
            took = time.monotonic() - started
            dropped = spool.delivery_status().dropped
            kept = spool.counts()["samples"]
        finally:
            spool.close()
        print(
            f"seed {seed}: {ROUNDS} rounds in {took:.0f} s, {samples} samples: {kept} kept, "
            f"{dropped[Stream.SAMPLES]} dropped, {room.dropped} found no room; largest WAL "
            f"{wal_max} B (cap {disk.WAL_CAP_BYTES})"
        )
        stored = [r[0] for r in query(path, "SELECT t_onset FROM events ORDER BY id")]
        assert stored == [round(t, 3) for t in events]
        assert dropped.get(Stream.EVENTS, 0) == 0
        assert kept + dropped[Stream.SAMPLES] + room.dropped == samples
        assert dropped[Stream.SAMPLES] > samples // 2  # the disk really was full
        assert room.dropped == 0  # every slice found room once older samples made way
        assert wal_max <= disk.WAL_CAP_BYTES
        assert query(path, "PRAGMA integrity_check") == [("ok",)]
