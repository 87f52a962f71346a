"""`kill -9` of a running `mirrorwatch monitor`, then a restart (issue 7).

What the test reads from the spool while the monitor runs (WAL lets a reader in beside
the writer) is committed; after SIGKILL every bit of it must still be there, the file
must pass SQLite's integrity check, and a new monitor must run on the same spool.
The restart closes the killed session as interrupted at its last commit, which was
at most a second before the kill: that second is all the raw data that was lost.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from faults_run import command, environment, mirrorwatch

# Seed 7's simulated day has its first movements about 60 s in: at 20x real time the
# monitor has stored a few events some 4-8 s after it started.
MONITOR = ("monitor", "--subject", "p01", "--source", "simulated", "--seed", "7")
EVENTS_BEFORE_KILL = 3


def _committed(spool: Path) -> tuple[list[tuple[int, str, str]], int] | None:
    """(events as (id, session, data), sample rows) now committed; None before the schema."""
    if not spool.exists():
        return None
    db = sqlite3.connect(spool, timeout=10.0)
    try:
        events = db.execute("SELECT id, session_id, data FROM events ORDER BY id").fetchall()
        samples = int(db.execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.OperationalError:  # the monitor is still creating the schema
        return None
    finally:
        db.close()
    return events, samples


def test_kill_9_loses_no_committed_event_and_a_new_session_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    spool = data / "spool.sqlite"
    with (tmp_path / "out").open("w") as out, (tmp_path / "err").open("w") as err:
        proc = subprocess.Popen(
            command(data, *MONITOR, "--speed", "20", "--duration", "3600", "--store-samples"),
            stdout=out,
            stderr=err,
            env=environment(tmp_path),
            cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 60.0
            seen = _committed(spool)
            while seen is None or len(seen[0]) < EVENTS_BEFORE_KILL:
                assert proc.poll() is None, (tmp_path / "err").read_text()
                assert time.monotonic() < deadline, f"no {EVENTS_BEFORE_KILL} events in 60 s"
                time.sleep(0.2)
                seen = _committed(spool)
        finally:
            # right away: raw samples are being committed continuously, so the kill
            # most likely lands in the middle of a write
            proc.kill()
            killed_at = time.time()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    events_before, samples_before = seen
    assert samples_before > 0
    # the WAL was live when the process died: opening the file recovers from it
    assert spool.with_name("spool.sqlite-wal").exists()

    db = sqlite3.connect(spool)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        events_after = db.execute("SELECT id, session_id, data FROM events ORDER BY id").fetchall()
        samples_after = int(db.execute("SELECT count(*) FROM samples").fetchone()[0])
        (killed,) = db.execute("SELECT id, ended_at FROM sessions").fetchall()
        progress_t, progress_at = db.execute(
            "SELECT progress_t, progress_at FROM sessions"
        ).fetchone()
        last_t = dict(db.execute("SELECT side, max(t) FROM samples GROUP BY side").fetchall())
    finally:
        db.close()
    print(
        f"before kill: {len(events_before)} events, {samples_before} samples committed; "
        f"after: {len(events_after)} events, {samples_after} samples"
    )
    assert set(events_before) <= set(events_after)
    assert samples_after >= samples_before
    assert killed[1] is None  # it never got to end its session
    assert {sid for _, sid, _ in events_after} == {killed[0]}
    # the progress is honest: every sample up to it was committed (4-sample blocks)
    assert min(last_t.values()) >= progress_t - 0.04
    print(f"last commit {killed_at - progress_at:.3f} s before the kill")
    assert killed_at - progress_at <= 1.0

    r = mirrorwatch(tmp_path, data, *MONITOR, "--speed", "max", "--duration", "90")
    assert r.returncode == 0, r.stderr
    db = sqlite3.connect(spool)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        sessions = dict(db.execute("SELECT id, ended_at FROM sessions").fetchall())
        kept = db.execute("SELECT id, session_id, data FROM events ORDER BY id").fetchall()
        reasons = dict(db.execute("SELECT id, end_reason FROM sessions").fetchall())
    finally:
        db.close()
    (new,) = set(sessions) - {killed[0]}
    assert f"session {new}" in r.stdout
    assert sessions[new] is not None
    # the restart closed the killed session where its last commit left it, and said so
    assert (sessions[killed[0]], reasons[killed[0]]) == (progress_at, "interrupted")
    assert reasons[new] == "source ended"
    assert f"session {killed[0]} never ended" in r.stderr
    assert set(events_after) <= set(kept)  # the new run kept the old session's events
    assert any(sid == new for _, sid, _ in kept)
