"""A session's progress in the spool, and closing the sessions whose process died."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.store import owner
from pipeline.store.sessions import STALE_AFTER_S
from pipeline.store.spool import Spool


def _started(spool: Spool) -> str:
    return spool.start_session(
        subject="P01", source="simulated", mode="monitor", started_at=time.time()
    ).id


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_progress_is_stored_and_read_back(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        sid = _started(spool)
        spool.note_progress(sid, 12.5, 40)
        info = spool.session(sid)
    assert (info.progress_t, info.lost_samples, info.ended_at) == (12.5, 40, None)


def test_a_session_of_a_dead_process_is_closed_at_its_last_progress(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Spool.in_dir(tmp_path) as spool:
        sid = _started(spool)
        spool.note_progress(sid, 61.25, 0)
        at = spool._db.execute("SELECT progress_at FROM sessions").fetchone()[0]
        dead = f"{owner.current().rpartition(':')[0]}:{_dead_pid()}"
        spool._db.execute("UPDATE sessions SET owner = ?", (dead,))
        with caplog.at_level(logging.WARNING):
            (closed,) = spool.close_interrupted(time.time())
    assert closed.id == sid
    assert closed.end_reason == "interrupted"
    assert closed.ended_at == at
    assert "61.2 s" in caplog.text or "61.3 s" in caplog.text


def test_a_running_session_is_left_alone(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        sid = _started(spool)
        spool.note_progress(sid, 1.0, 0)  # owned by this process, which is alive
        assert spool.close_interrupted(time.time()) == []
        other = _started(spool)  # starting a session runs the same check
        assert spool.session(sid).ended_at is None
        assert spool.session(other).ended_at is None


def test_an_old_session_of_another_machine_is_closed_once_stale(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        sid = _started(spool)
        spool.note_progress(sid, 5.0, 0)
        spool._db.execute("UPDATE sessions SET owner = 'another-boot:1'")
        now = time.time()
        assert spool.close_interrupted(now) == []
        (closed,) = spool.close_interrupted(now + STALE_AFTER_S + 1.0)
    assert closed.id == sid


def test_sessions_that_never_note_progress_are_never_closed(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        sid = _started(spool)
        assert spool.close_interrupted(time.time() + 10 * STALE_AFTER_S) == []
        assert spool.session(sid).end_reason is None


def test_owner_gone() -> None:
    mine = owner.current()
    assert not owner.gone(mine)
    assert owner.gone(f"{mine.rpartition(':')[0]}:{_dead_pid()}")
    assert not owner.gone(f"another-boot:{_dead_pid()}")
    assert not owner.gone(None)
    assert not owner.gone("garbage")
