"""A session stops when asked, also while the wrists send nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

from pipeline.engine import Engine
from pipeline.session import SessionResult, run_session, run_until_signalled
from pipeline.store.spool import Spool
from sensors.types import ImuBlock

ASK_AFTER_S = 0.3
GIVE_UP_S = 5.0  # a stop that is not honoured fails the test here, not at the timeout


class Silent:
    """Two wrists that never send: the next block never comes."""

    def __init__(self) -> None:
        self.closed = False

    async def blocks(self) -> AsyncIterator[ImuBlock]:
        try:
            await asyncio.Event().wait()
        finally:
            self.closed = True
        return
        yield  # an async generator, as the BLE source is


def _session(spool: Spool) -> str:
    return spool.start_session(
        subject="P01", source="silent", mode="monitor", started_at=time.time()
    ).id


def test_stop_ends_a_session_whose_wrists_are_silent(tmp_path: Path) -> None:
    source = Silent()
    asked: list[float] = []

    async def main(spool: Spool, session_id: str) -> SessionResult:
        stop = asyncio.Event()

        def ask() -> None:
            asked.append(time.monotonic())
            stop.set()

        asyncio.get_running_loop().call_later(ASK_AFTER_S, ask)
        run = run_session(source, Engine(), spool, session_id, stop=stop)
        return await asyncio.wait_for(run, GIVE_UP_S)

    with Spool.in_dir(tmp_path) as spool:
        session_id = _session(spool)
        result = asyncio.run(main(spool, session_id))
        took = time.monotonic() - asked[0]
        info = spool.session(session_id)
    assert took < 1.0
    assert result.stopped
    assert source.closed
    assert info.ended_at is not None
    assert info.end_reason == "stopped"  # closed by the session, not "interrupted" later


def test_sigterm_ends_a_session_whose_wrists_are_silent(tmp_path: Path) -> None:
    source = Silent()

    async def main(stop: asyncio.Event, spool: Spool, session_id: str) -> SessionResult:
        asyncio.get_running_loop().call_later(ASK_AFTER_S, os.kill, os.getpid(), signal.SIGTERM)
        run = run_session(source, Engine(), spool, session_id, stop=stop)
        return await asyncio.wait_for(run, GIVE_UP_S)

    with Spool.in_dir(tmp_path) as spool:
        session_id = _session(spool)
        started = time.monotonic()
        result = run_until_signalled(lambda stop: main(stop, spool, session_id))
        took = time.monotonic() - started - ASK_AFTER_S
        info = spool.session(session_id)
    assert took < 1.0
    assert result.stopped
    assert info.end_reason == "stopped"
