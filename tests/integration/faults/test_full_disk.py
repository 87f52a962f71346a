"""A full disk under a running monitor (issue 16), on a real 3 MB tmpfs, in real processes.

- Two hours of two wrists at 100 Hz with raw samples (~170 MB of rows) on 3 MB: the
  session runs to its end, every event the engine decided is stored, raw samples make
  way oldest first (counted, warned about once a minute), and afterwards `events`,
  `status` and `report` read the spool from the same file system mounted read-only.
- SIGTERM while the disk is full ends the process within a second, session ended.
- A disk filled by someone else so that not even an event fits: the session ends as
  "disk full" at once, with every committed event intact, one line, exit 2.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from faults_run import command, environment, mirrorwatch
from hostfs import fill, query, remount, tmpfs, wait_for

MONITOR = ("monitor", "--subject", "p01", "--source", "simulated")
TWO_HOURS = (*MONITOR, "--seed", "0", "--duration", "7200", "--speed", "max", "--store-samples")
DISK_WARNING = "disk nearly full"


def _events(spool: Path) -> list[str]:
    return [str(r[0]) for r in query(spool, "SELECT data FROM events ORDER BY id")]


def _events_so_far(spool: Path) -> int:
    """Events committed now; 0 while the monitor is still creating the spool."""
    try:
        return len(_events(spool)) if spool.exists() else 0
    except sqlite3.OperationalError:
        return 0


@pytest.mark.timeout(900)
def test_two_hours_on_3_mb_keep_every_event_and_read_back_read_only(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "card", "3m") as card:
        data = card / "data"
        started = time.monotonic()
        r = mirrorwatch(tmp_path, data, *TWO_HOURS, timeout=800)
        took = time.monotonic() - started
        assert r.returncode == 0, r.stderr
        spool = data / "spool.sqlite"
        stored = _events(spool)
        # every event the engine decided: the monitor counted them into its hourly rows
        decided = query(spool, "SELECT sum(onsets) FROM hourly")[0][0]
        ((reason, lost),) = query(spool, "SELECT end_reason, lost_samples FROM sessions")
        status = json.loads(mirrorwatch(tmp_path, data, "status", "--json").stdout)
        dropped = status["dropped"]
        print(
            f"{took:.0f} s for 2 h; {len(stored)} events stored of {decided} decided; "
            f"{status['counts']['samples']} samples kept, {dropped['samples']} dropped "
            f"(+{lost} found no room); warnings: {r.stderr.count(DISK_WARNING)}"
        )
        assert len(stored) == decided > 50
        assert reason == "source ended"
        assert dropped["events"] == 0
        # two wrists, 100 Hz, 2 h: each sample kept, pruned or counted as finding no room
        assert status["counts"]["samples"] + dropped["samples"] + lost == 2 * 100 * 7200
        assert dropped["samples"] > 1_000_000
        # warned, but at most once a minute of the run (plus the first)
        assert 1 <= r.stderr.count(DISK_WARNING) <= took / 60 + 2
        assert status["disk_short_at"] is not None

        remount(card, "ro")
        try:
            ro = mirrorwatch(tmp_path, data, "events", "--format", "json")
            assert ro.returncode == 0, ro.stderr
            assert [json.loads(line)["t_onset"] for line in ro.stdout.splitlines()] == [
                json.loads(e)["t_onset"] for e in stored
            ]
            assert ro.stderr.count("reading it read-only") == 1
            st = mirrorwatch(tmp_path, data, "status")
            assert st.returncode == 0, st.stderr
            assert "read-only" in st.stdout
            rep = mirrorwatch(tmp_path, data, "report", "--out", str(tmp_path / "r.html"))
            assert rep.returncode == 0, rep.stderr
            assert (tmp_path / "r.html").stat().st_size > 10_000
        finally:
            remount(card, "rw")


def test_sigterm_on_a_full_disk_ends_the_monitor_within_a_second(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "card", "3m") as card:
        data = card / "data"
        err_path = tmp_path / "err"
        with err_path.open("w") as err:
            proc = subprocess.Popen(
                command(data, *TWO_HOURS),
                stdout=subprocess.PIPE,
                stderr=err,
                env=environment(tmp_path),
                cwd=tmp_path,
                text=True,
            )
            try:
                wait_for(lambda: DISK_WARNING in err_path.read_text(), 60, "the disk never filled")
                time.sleep(2.0)  # well into pruning: every commit now makes room first
                sent, sent_wall = time.monotonic(), time.time()
                proc.send_signal(signal.SIGTERM)
                out, _ = proc.communicate(timeout=30)
                reacted = time.monotonic() - sent
            finally:
                proc.kill()
        spool = data / "spool.sqlite"
        ((ended_at, reason),) = query(spool, "SELECT ended_at, end_reason FROM sessions")
        print(f"exit {reacted:.2f} s after SIGTERM; session ended {ended_at - sent_wall:.2f} s")
        assert proc.returncode == 0, err_path.read_text()
        assert reason == "stopped"
        assert reacted <= 1.0
        assert "report not written (stopped by SIGTERM)" in out
        assert len(_events(spool)) == query(spool, "SELECT sum(onsets) FROM hourly")[0][0]


def test_no_room_even_for_an_event_ends_the_session_as_disk_full(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "card", "3m") as card:
        data = card / "data"
        spool = data / "spool.sqlite"
        err_path = tmp_path / "err"
        # seed 7 moves from about 60 s on: at 50x a few events are in within seconds
        run = (*MONITOR, "--seed", "7", "--duration", "3600", "--speed", "50")
        with err_path.open("w") as err:
            proc = subprocess.Popen(
                command(data, *run),
                stdout=subprocess.PIPE,
                stderr=err,
                env=environment(tmp_path),
                cwd=tmp_path,
                text=True,
            )
            try:
                wait_for(lambda: _events_so_far(spool) >= 3, 60, "no events in 60 s")
                before = _events(spool)
                filled = fill(card)  # someone else's file takes the last byte
                full = time.monotonic()
                proc.communicate(timeout=60)
                reacted = time.monotonic() - full
            finally:
                proc.kill()
        stderr = err_path.read_text()
        after = _events(spool)
        ((reason, progress_t),) = query(spool, "SELECT end_reason, progress_t FROM sessions")
        print(
            f"filled {filled} B; ended {reacted:.2f} s later as {reason!r} at session time "
            f"{progress_t:.0f} s; {len(before)} events before the fill, {len(after)} after"
        )
        assert proc.returncode == 2, stderr
        assert reason == "disk full"
        assert after[: len(before)] == before  # everything committed is intact
        assert query(spool, "PRAGMA integrity_check") == [("ok",)]
        (line,) = [s for s in stderr.splitlines() if not s.startswith("mirrorwatch: pipeline/")]
        assert line.startswith("mirrorwatch: disk full: no room left for events in ")
        assert f"with {len(after)} events stored" in line
        assert reacted < 10.0
        # the spool still opens for writing once there is room again
        (card / "filler").unlink()
        st = mirrorwatch(tmp_path, data, "status", "--json")
        assert st.returncode == 0, st.stderr
        assert json.loads(st.stdout)["counts"]["events"] == len(after)


def test_a_spool_on_a_full_disk_still_opens(tmp_path: Path) -> None:
    """`status` and `events` on a disk with no byte free: reading needs no room."""
    with tmpfs(tmp_path / "card", "3m") as card:
        data = card / "data"
        r = mirrorwatch(tmp_path, data, "demo", "--duration", "60")
        assert r.returncode == 0, r.stderr
        stored = _events(data / "spool.sqlite")
        fill(card)
        ev = mirrorwatch(tmp_path, data, "events", "--format", "json")
        assert ev.returncode == 0, ev.stderr
        assert len(ev.stdout.splitlines()) == len(stored) > 0
        assert ev.stderr.count("reading it read-only") == 1
        st = mirrorwatch(tmp_path, data, "status")
        assert st.returncode == 0, st.stderr
        assert "0.0 MB free" in st.stdout
