"""A store slower than the sensors (issue 7), in a real `mirrorwatch monitor` process.

Every commit of raw samples sleeps 2 s (slow_store.py) while simulated wrists stream
at 10x real time, so the store falls far behind. Then: the sensors are never held up
(each block is handed to the session on time), the samples waiting for the store stay
bounded, the oldest are dropped and counted in the session, and not one event is
lost: the stored events are exactly those of the same session run with a normal
store.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from faults_run import environment, mirrorwatch

HERE = Path(__file__).parent
MONITOR = ("monitor", "--subject", "p01", "--source", "simulated", "--seed", "3")
DURATION = ("--duration", "150", "--store-samples")
SLEEP_S = 2.0
MAX_WAITING = 2_000  # 10 s of two wrists at 100 Hz: one slow commit outlasts it


def _stored(spool: Path) -> tuple[list[str], dict[str, list[float]], int, str]:
    """(event data, sample times per side, lost samples, end reason) of the one session."""
    db = sqlite3.connect(spool)
    try:
        events = [r[0] for r in db.execute("SELECT data FROM events ORDER BY id")]
        times: dict[str, list[float]] = {"L": [], "R": []}
        for side, t in db.execute("SELECT side, t FROM samples ORDER BY id"):
            times[side].append(t)
        ((lost, reason),) = db.execute("SELECT lost_samples, end_reason FROM sessions")
    finally:
        db.close()
    return events, times, lost, reason


def test_a_slow_store_drops_oldest_samples_counted_and_never_an_event(tmp_path: Path) -> None:
    reference = mirrorwatch(tmp_path, tmp_path / "ref", *MONITOR, *DURATION, "--speed", "max")
    assert reference.returncode == 0, reference.stderr
    ref_events, ref_times, ref_lost, _ = _stored(tmp_path / "ref" / "spool.sqlite")
    assert ref_lost == 0  # at full speed the session waits for the store instead

    report = tmp_path / "late.json"
    data = tmp_path / "slow"
    argv = [str(HERE / "slow_store.py"), str(SLEEP_S), str(MAX_WAITING), str(report), "--"]
    slow = subprocess.run(
        [sys.executable, *argv, "--data-dir", str(data), *MONITOR, *DURATION, "--speed", "10"],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        cwd=tmp_path,
        timeout=100,
        check=False,
    )
    assert slow.returncode == 0, slow.stderr
    late = json.loads(report.read_text())
    events, times, lost, reason = _stored(data / "spool.sqlite")
    print(f"{late}; {lost} samples dropped; {sum(map(len, times.values()))} stored")

    assert late["slow_commits"] >= 3
    # never blocked: a store that held the loop would make blocks SLEEP_S late
    assert late["max_s"] < SLEEP_S / 4
    assert events == ref_events
    assert reason == "source ended"
    assert lost > 0
    assert "raw samples were not stored" in slow.stderr
    for side in ("L", "R"):
        kept = times[side]
        assert kept == sorted(set(kept))
        assert set(kept) <= set(ref_times[side])
        # what was not stored is what was dropped, and the newest data survived
        assert kept[-1] == ref_times[side][-1]
    assert sum(map(len, times.values())) + lost == sum(map(len, ref_times.values()))
