"""The spool's size cap reached during a long monitor (issue 7), in a real process.

`[spool] max_mb = 1` while a quarter of an hour of two wrists at 100 Hz is stored
with its raw samples (about 10 MB of rows): the file stays near the cap, the oldest raw samples
are pruned first and every pruned row is counted (`status`) and logged, and every
event survives: the same as in the same session without a cap.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from faults_run import mirrorwatch

MONITOR = ("monitor", "--subject", "p01", "--source", "simulated", "--seed", "5")
RUN = (*MONITOR, "--duration", "900", "--store-samples", "--speed", "max")
CAP = 1024 * 1024


def _events(spool: Path) -> list[str]:
    db = sqlite3.connect(spool)
    try:
        return [r[0] for r in db.execute("SELECT data FROM events ORDER BY id")]
    finally:
        db.close()


def test_the_cap_prunes_raw_samples_first_counted_and_keeps_every_event(tmp_path: Path) -> None:
    free = tmp_path / "free"
    free.mkdir()
    reference = mirrorwatch(free, free / "data", *RUN)
    assert reference.returncode == 0, reference.stderr
    ref_events = _events(free / "data" / "spool.sqlite")
    ref_status = json.loads(mirrorwatch(free, free / "data", "status", "--json").stdout)
    total = ref_status["counts"]["samples"]

    capped = tmp_path / "capped"
    capped.mkdir()
    (capped / "mirrorwatch.toml").write_text("[spool]\nmax_mb = 1\n")
    r = mirrorwatch(capped, capped / "data", *RUN)
    assert r.returncode == 0, r.stderr
    spool = capped / "data" / "spool.sqlite"
    status = json.loads(mirrorwatch(capped, capped / "data", "status", "--json").stdout)
    kept = status["counts"]["samples"]
    dropped = status["dropped"]
    print(f"{total} samples; capped: kept {kept}, dropped {dropped}, {spool.stat().st_size} B")

    assert len(ref_events) > 20
    assert _events(spool) == ref_events
    assert dropped["events"] == 0
    assert dropped["samples"] > 0
    assert kept + dropped["samples"] == total  # every pruned row counted
    # the newest samples are the ones kept
    db = sqlite3.connect(spool)
    try:
        newest = db.execute("SELECT max(t) FROM samples").fetchone()[0]
        ref = sqlite3.connect(free / "data" / "spool.sqlite")
        assert newest == ref.execute("SELECT max(t) FROM samples").fetchone()[0]
        ref.close()
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free_pages = db.execute("PRAGMA freelist_count").fetchone()[0]
        page = db.execute("PRAGMA page_size").fetchone()[0]
    finally:
        db.close()
    assert (pages - free_pages) * page <= CAP
    # freed pages are reused: the file holds the cap plus one commit's rows (pruned
    # after they land; at full speed a commit carries a few seconds of samples)
    assert spool.stat().st_size <= 3 * CAP
    assert "spool over its size bound" in r.stderr
    assert r.stderr.count("spool over its size bound") <= 2  # once a minute, not per commit
