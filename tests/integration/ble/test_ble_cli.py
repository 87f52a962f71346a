"""`mirrorwatch scan`, `pair` and `record --source ble` as a user runs them, against the
emulated wrists (the subprocess finds the emulated BlueZ through DBUS_SYSTEM_BUS_ADDRESS),
and a BLE session through run_session into the spool."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import LEFT, RIGHT, Rig

from pipeline.cli import main
from pipeline.engine import Engine
from pipeline.engine.config import EngineConfig
from pipeline.session import run_session
from pipeline.settings import load_settings
from pipeline.store.spool import Spool
from sensors.ble import BleSource
from sensors.ble_link import LinkState, LinkStatus
from sensors.recording import read_recording
from sensors.types import Side


def mirrorwatch(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIRRORWATCH_DATA_DIR": str(cwd / "data")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_scan_pair_and_record(rig: Rig, tmp_path: Path) -> None:
    """scan and record run as a user runs them, in a subprocess."""
    rig.pair()
    r = mirrorwatch(tmp_path, "scan", "--seconds", "1", "--json")
    assert r.returncode == 0, r.stderr
    found = sorted((json.loads(line) for line in r.stdout.splitlines()), key=lambda f: f["name"])
    assert [(f["name"], f["address"], f["profile"]) for f in found] == [
        ("MirrorWatch L", LEFT, "mirrorwatch-v1"),
        ("MirrorWatch R", RIGHT, "mirrorwatch-v1"),
    ]
    assert all(-100 < f["rssi"] < 0 for f in found)

    config = tmp_path / "mirrorwatch.toml"
    config.write_text("# my settings\n[engine]\nk_on = 7.0\n\n[ble]\nstall_timeout = 2.5\n")
    # in-process: the command's start-up alone costs seconds on this machine
    assert main(["--config", str(config), "pair", "--left", LEFT.lower(), "--right", RIGHT]) == 0
    written = tomllib.loads(config.read_text())
    assert written["ble"] == {"left": LEFT, "right": RIGHT, "stall_timeout": 2.5}
    assert written["engine"] == {"k_on": 7.0}
    assert config.read_text().startswith("# my settings\n")

    out = tmp_path / "wrists.csv.gz"
    args = (
        "--config",
        str(config),
        "record",
        "--source",
        "ble",
        "--duration",
        "3",
        "--out",
        str(out),
    )
    r = mirrorwatch(tmp_path, *args)
    assert r.returncode == 0, r.stderr
    assert f"L {LEFT}: streaming" in r.stderr
    assert f"R {RIGHT}: streaming" in r.stderr
    assert "L: 0 lost, R: 0 lost" in r.stdout
    rec = read_recording(out)
    assert rec.skipped == 0
    assert rec.fs == 200.0
    for side in Side:
        block = rec.sides[side]
        # session time 0 is when the links start; the first samples follow the connection
        assert 2.5 * 200 < len(block) <= 3 * 200
        assert float(block.t[-1]) < 3.0
        assert np.all(np.diff(block.t) > 0)
        assert abs(float(np.median(np.diff(block.t))) - 1 / 200) < 1e-4
        assert block.gyr is not None
        # the emulated wrist lies flat: gravity on z
        assert abs(float(np.median(block.acc[:, 2])) - 9.81) < 0.05


def test_pair_and_record_refuse_what_cannot_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process (the command's start-up costs seconds here): exit 2 with one line."""
    config = tmp_path / "m.toml"
    config.write_text("[engine]\nk_on = 7.0\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config), "pair", "--left", "not-an-address", "--right", RIGHT])
    assert exit_info.value.code == 2
    assert "not a Bluetooth address" in capsys.readouterr().err
    assert main(["--config", str(config), "pair", "--left", LEFT, "--right", LEFT]) == 2
    assert capsys.readouterr().err == "mirrorwatch: ble: left and right must be different sensors\n"
    assert config.read_text() == "[engine]\nk_on = 7.0\n"
    out = str(tmp_path / "x.csv")
    assert (
        main(
            ["--config", str(config), "record", "--source", "ble", "--duration", "1", "--out", out]
        )
        == 2
    )
    assert "no wrists paired" in capsys.readouterr().err


def test_ble_session_into_the_spool(rig: Rig, tmp_path: Path) -> None:
    """run_session, the glue monitor and assess use, with the BLE source."""
    rig.pair()
    config = tmp_path / "mirrorwatch.toml"
    config.write_text(f'[ble]\nleft = "{LEFT}"\nright = "{RIGHT}"\n')
    settings = load_settings(config, tmp_path / "data")

    async def main() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        streaming: set[Side] = set()

        def on_status(status: LinkStatus) -> None:
            # 3 s of streaming from both wrists, however long connecting took on a busy host
            if status.state is LinkState.STREAMING and status.side not in streaming:
                streaming.add(status.side)
                if len(streaming) == 2:
                    loop.call_later(3.0, stop.set)

        source = BleSource(settings.ble, on_status=on_status)
        engine = Engine(EngineConfig(fs=200.0))
        with Spool.in_dir(settings.data_dir) as spool:
            info = spool.start_session(
                subject="s1", source="ble", mode="monitor", started_at=time.time()
            )
            result = await run_session(
                source, engine, spool, info.id, store_samples=True, stop=stop
            )
            assert result.stopped
            samples = {side: spool.samples(info.id, side) for side in Side}
        for side, block in samples.items():
            assert block is not None
            assert len(block) > 2.0 * 200, side
        return info.id, result.covered

    session_id, covered = asyncio.run(main())
    assert session_id
    assert covered > 2.5


def test_monitor_with_ble_into_the_spool(rig: Rig, tmp_path: Path) -> None:
    """`mirrorwatch monitor --source ble` until Ctrl-C: samples of both wrists stored."""
    rig.pair()
    config = tmp_path / "mirrorwatch.toml"
    config.write_text(f'[ble]\nleft = "{LEFT}"\nright = "{RIGHT}"\n')
    env = {**os.environ, "MIRRORWATCH_DATA_DIR": str(tmp_path / "data")}
    args = ["--config", str(config), "monitor", "--source", "ble", "--subject", "s1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args, "--store-samples"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stderr is not None
        streaming: set[str] = set()
        seen: list[str] = []
        while len(streaming) < 2:
            line = proc.stderr.readline()
            assert line, f"monitor ended early: {seen}"
            seen.append(line)
            if ": streaming" in line:
                streaming.add(line[0])
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    session = next(line.split()[1] for line in out.splitlines() if line.startswith("session "))
    with Spool.in_dir(tmp_path / "data") as spool:
        info = spool.session(session)
        assert info.source == f"ble:L={LEFT},R={RIGHT}"
        assert info.ended_at is not None
        db = sqlite3.connect(spool.path)
        sides = {r[0] for r in db.execute("SELECT side FROM link WHERE session_id = ?", (session,))}
        db.close()
        assert sides == {"L", "R"}  # each wrist's link changes kept as link records
        for side in Side:
            block = spool.samples(session, side)
            assert block is not None
            assert len(block) > 2.5 * 200, side
            assert np.all(np.diff(block.t) > 0)


SHORT_PROTOCOL = """
name = "short"
countdown = 1
rest = 1
[[task]]
name = "rest"
instruction = "Sit still."
active = "none"
duration = 3
[[task]]
name = "tap-R"
instruction = "Tap with the right hand."
active = "R"
motion = "tapping"
period = 1.5
duration = 3
"""


def test_assess_with_ble_runs_the_protocol_into_the_spool(rig: Rig, tmp_path: Path) -> None:
    """`mirrorwatch assess --source ble --yes`: the protocol is timed on the live wrists,
    every task window is stored with samples of both wrists, and a report is written."""
    rig.pair()
    config = tmp_path / "mirrorwatch.toml"
    config.write_text(f'[ble]\nleft = "{LEFT}"\nright = "{RIGHT}"\n')
    protocol = tmp_path / "short.toml"
    protocol.write_text(SHORT_PROTOCOL)
    r = mirrorwatch(
        tmp_path,
        "--config",
        str(config),
        "assess",
        "--protocol",
        str(protocol),
        "--subject",
        "s2",
        "--source",
        "ble",
        "--yes",
    )
    # The emulated boards turn steadily and never start a movement: the protocol ran
    # in full, but the right hand gave nothing to judge, so the verdict is incomplete
    # (exit 3) and says why, and the left hand had no task of its own.
    assert r.returncode == 3, r.stderr
    assert "go: tap-R" in r.stderr
    assert "no decidable right-hand movement detected" in r.stdout
    assert "NOT ASSESSED" in r.stdout
    session = next(line.split()[1] for line in r.stdout.splitlines() if line.startswith("session "))
    report = Path(
        next(
            line.split(maxsplit=1)[1]
            for line in r.stdout.splitlines()
            if line.startswith("report ")
        )
    )
    assert report.is_file()
    assert "tap-R" in report.read_text()

    from pipeline.store.aggregates import Aggregates
    from pipeline.workflows.assessment.results import load_assessment

    with Spool.in_dir(tmp_path / "data") as spool:
        info = spool.session(session)
        assert (info.mode, info.source) == ("assess", f"ble:L={LEFT},R={RIGHT}")
        assert info.end_reason == "stopped"  # by assess, once the protocol was done
        result = load_assessment(spool, Aggregates(spool), info)
        assert [w.name for w in result.windows] == ["rest", "tap-R"]
        first, last = result.windows[0], result.windows[-1]
        for side in Side:
            block = spool.samples(session, side)
            assert block is not None
            # the live wrists streamed through the whole protocol, on one clock
            assert block.t[0] <= first.start
            assert block.t[-1] >= last.end - 0.1
            assert np.all(np.diff(block.t) > 0)
