"""A full spool under a running session, with SQLite's own limit (`max_page_count`).

No mount needed (tests/integration/faults has the real small file systems): SQLite
answers SQLITE_FULL exactly as on a full disk when the database would grow past
`max_page_count`. Raw samples make way, oldest first and counted; events never do.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from pipeline.engine import Engine
from pipeline.session import SessionResult, run_session
from pipeline.store.spool import Spool, SpoolFull
from sensors.simulated import SimConfig, SimulatedSource, simulate
from sensors.types import Side

PAGES = 400  # 1.6 MB of 4 KiB pages: a few minutes of raw samples


def _run(spool: Spool, *, store_samples: bool) -> SessionResult:
    sim = simulate("firearm-drill", SimConfig(duration=300.0, seed=3))
    sid = spool.start_session(
        subject="p01", source="simulated", mode="demo", started_at=time.time()
    ).id
    engine = Engine()  # 100 Hz, as simulated
    return asyncio.run(
        run_session(
            SimulatedSource(sim, None),
            engine,
            spool,
            sid,
            store_samples=store_samples,
            wait_for_store=True,
        )
    )


def test_samples_make_way_for_events_when_the_spool_is_full(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path / "free") as spool:
        reference = _run(spool, store_samples=False)
        expected = [s.event for s in spool.events()]
    with Spool.in_dir(tmp_path / "full") as spool:
        spool.query(f"PRAGMA max_page_count = {PAGES}")
        result = _run(spool, store_samples=True)
        kept = [s.event for s in spool.events()]
        counts = spool.counts()
        dropped = spool.delivery_status().dropped
        info = spool.session(result.info.id)
        pages = spool.query("PRAGMA page_count")[0][0]
    total = 2 * 100 * 300
    print(
        f"{len(kept)} events; samples kept {counts['samples']}, pruned "
        f"{dropped['samples']}, no room {result.dropped_samples}; {pages} pages"
    )
    assert len(expected) > 10
    assert kept == expected
    assert len(reference.events) == len(result.events) == len(kept)
    assert info.end_reason == "source ended"
    assert dropped["samples"] > 0
    assert counts["samples"] + dropped["samples"] + result.dropped_samples == total
    assert info.lost_samples == result.dropped_samples
    assert pages <= PAGES


def test_a_write_that_finds_no_room_is_spool_full(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        sid = spool.start_session(
            subject="p01", source="simulated", mode="demo", started_at=time.time()
        ).id
        pages = spool.query("PRAGMA page_count")[0][0]
        spool.query(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(SpoolFull, match="database or disk is full"):
            _links(spool, sid, 10_000)
        # what was committed before is intact, and the connection still works
        assert spool.session(sid).id == sid


def _links(spool: Spool, session_id: str, n: int) -> None:
    for i in range(n):
        spool.add_link(session_id, Side.L if i % 2 else Side.R, float(i), battery=50.0)
