"""A session whose spool is locked for a while by another process keeps going."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from pipeline.engine import Engine
from pipeline.session import run_session
from pipeline.store import spool as spool_module
from pipeline.store.spool import Spool
from sensors.simulated import SimConfig, SimulatedSource, simulate


def _run(path: Path, lock_s: float) -> tuple[list[str], int, int]:
    sim = simulate("firearm-drill", SimConfig(duration=60.0, seed=2))
    with Spool(path) as spool:
        info = spool.start_session(subject="p1", source="sim", mode="demo", started_at=time.time())

        def hold() -> None:
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # e.g. `mirrorwatch push` in the middle of a write
            time.sleep(lock_s)
            other.execute("COMMIT")
            other.close()

        holder = threading.Thread(target=hold)
        holder.start()
        result = asyncio.run(
            run_session(SimulatedSource(sim, 30.0), Engine(), spool, info.id, store_samples=True)
        )
        holder.join()
        events = [s.event.to_json() for s in spool.events(info.id)]
        samples = spool.counts()["samples"]
    return events, samples, result.dropped_samples


def test_a_locked_spool_is_waited_for_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reference = _run(tmp_path / "free.sqlite", 0.0)
    monkeypatch.setattr(spool_module, "BUSY_TIMEOUT_S", 0.1)
    with caplog.at_level(logging.WARNING):
        locked = _run(tmp_path / "locked.sqlite", 1.0)  # ten busy timeouts in a row
    assert locked == reference
    assert reference[2] == 0
    assert "database is locked; retrying" in caplog.text
