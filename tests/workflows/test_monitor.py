"""`mirrorwatch monitor` end to end: a simulated stretch of a day, stops by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workflow_run import mirrorwatch

from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool
from pipeline.workflows.monitoring import SIDE_NOTE
from sensors.types import Side


def test_simulated_monitoring_stores_hours_and_reports_the_trend(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = mirrorwatch(
        data,
        "monitor",
        "--subject",
        "P03",
        "--speed",
        "max",
        "--duration",
        "900",
        "--fs",
        "50",
        "--seed",
        "1",
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-2].startswith("session ")
    report = Path(lines[-1].removeprefix("report "))
    with Spool.in_dir(data) as spool:
        info = spool.session("latest")
        assert info.mode == "monitor"
        assert info.ended_at is not None
        hours = Aggregates(spool).hours(info.id)
        events = spool.events(info.id)
    assert {(h.hour, h.side) for h in hours} == {(0, Side.L), (0, Side.R)}
    assert sum(h.onsets for h in hours) == len(events) > 10
    for h in hours:
        assert h.seconds == pytest.approx(900.0, abs=0.05)
        assert h.worn_s == h.seconds  # both worn throughout
        assert h.valid_s > 0.99 * h.seconds
        assert 0 <= h.mirror <= h.onsets
    text = report.read_text(encoding="utf-8")
    assert "Hourly trend" in text
    assert "Daily trend" in text
    assert "worn throughout" in text
    # the side statement says what the check found, and "undecided" when it did not decide
    with Spool.in_dir(data) as spool:
        side = Aggregates(spool).note(info.id, SIDE_NOTE)
    assert side in ("expected", "swapped", "undecided")
    assert {"expected": "on the expected wrists", "swapped": "SWAPPED", "undecided": "UNDECIDED"}[
        side
    ] in text
    assert "both sensors worn, on the expected wrists" not in text
    r2 = mirrorwatch(data, "report", "--session", info.id, "--out", str(tmp_path / "r.html"))
    assert r2.returncode == 0, r2.stderr


def test_sigterm_stops_cleanly_and_keeps_what_was_seen(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "MIRRORWATCH_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "monitor", "--subject", "P03", "--speed", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    spool_file = data / "spool.sqlite"
    deadline = time.monotonic() + 60
    while not spool_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(4.0)  # some minutes of simulated day at 30x
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in out
    with Spool.in_dir(data) as spool:
        info = spool.session("latest")
        hours = Aggregates(spool).hours(info.id)
    assert info.ended_at is not None
    assert len(hours) == 2
    assert all(0 < h.seconds < 3600 for h in hours)


# `mirrorwatch monitor` with a live source whose wrists never send (registered the way
# a live source plugs in); it touches argv[1] once the session reads from it.
SILENT_MONITOR = """
import asyncio, pathlib, sys
from pipeline import cli
from pipeline.commands.sources import LIVE_SOURCES, Opened

class Silent:
    async def blocks(self):
        pathlib.Path(sys.argv[1]).touch()
        await asyncio.Event().wait()
        yield

LIVE_SOURCES["silent"] = lambda settings: Opened(Silent(), "silent", 100.0, live=True)
sys.exit(cli.main(["monitor", "--subject", "P04", "--source", "silent"]))
"""


def test_sigterm_stops_monitoring_while_the_wrists_are_silent(tmp_path: Path) -> None:
    data, reading = tmp_path / "data", tmp_path / "reading"
    # the user's own mirrorwatch.toml (an InfluxDB to deliver to...) stays out of it
    env = {
        **os.environ,
        "MIRRORWATCH_DATA_DIR": str(data),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SILENT_MONITOR, str(reading)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while not reading.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)  # the report is drawn after the stop
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out
    with Spool.in_dir(data) as spool:
        info = spool.session("latest")
    assert info.end_reason == "stopped"
