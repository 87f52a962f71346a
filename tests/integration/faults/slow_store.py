"""`mirrorwatch` with a store slower than the sensors, for test_slow_store.py.

    python slow_store.py SLEEP_S MAX_WAITING REPORT.json -- <mirrorwatch arguments>

Every commit of raw samples sleeps SLEEP_S first (a slow SD card); at most
MAX_WAITING samples may wait for the store. The simulated sensors are paced as
usual, and how late each block was handed to the session compared with its due
time is written to REPORT.json at exit: a store that held up the event loop
would make the sensors late by the sleep.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import sensors.simulated
from pipeline.cli import main
from pipeline.store import write_queue
from pipeline.store.spool import Spool
from sensors.source import paced
from sensors.types import ImuBlock

sleep_s, max_waiting, report = float(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
assert sys.argv[4] == "--"
late = {"max_s": 0.0, "blocks": 0}
slow_commits = {"n": 0}
add_samples = Spool.add_samples


def slow_add_samples(self: Spool, session_id: str, blocks: list[ImuBlock]) -> int:
    time.sleep(sleep_s)
    slow_commits["n"] += 1
    return add_samples(self, session_id, blocks)


async def timed(blocks: Iterable[ImuBlock], speed: float | None) -> AsyncIterator[ImuBlock]:
    start = time.monotonic()
    async for block in paced(blocks, speed):
        if speed is not None and len(block):
            due = start + float(block.t[-1]) / speed
            late["max_s"] = max(late["max_s"], time.monotonic() - due)
        late["blocks"] += 1
        yield block


def write_report() -> None:
    report.write_text(json.dumps({**late, "slow_commits": slow_commits["n"]}))


Spool.add_samples = slow_add_samples  # type: ignore[method-assign]
sensors.simulated.paced = timed  # type: ignore[assignment]
write_queue.MAX_WAITING_SAMPLES = max_waiting
atexit.register(write_report)
sys.exit(main(sys.argv[5:]))
