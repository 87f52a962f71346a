"""Small CLI faults a new user meets: each is one clear line, and nothing half-done is left.

Bluetooth is made absent on purpose (a system D-Bus address that leads nowhere), so
these tests behave the same on a machine with and without BlueZ.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.store.outbox import Stream
from pipeline.store.spool import Spool
from sensors.types import ImuBlock, Side

NO_DBUS = "unix:path=/nonexistent/mirrorwatch-test/system_bus_socket"


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MIRRORWATCH_DATA_DIR": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "DBUS_SYSTEM_BUS_ADDRESS": NO_DBUS,
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr
    return r.stderr.strip()


def test_record_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "mine.csv"
    out.write_text("precious\n", encoding="utf-8")
    line = _one_line(_run(tmp_path, "record", "--out", str(out), "--duration", "5"))
    assert line == f"mirrorwatch: --out {out}: the file exists; --force overwrites it"
    assert out.read_text(encoding="utf-8") == "precious\n"
    r = _run(tmp_path, "record", "--out", str(out), "--duration", "5", "--force")
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8").startswith("# subject: sim\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".part")] == []


def test_record_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "nodir" / "x.csv"
    line = _one_line(_run(tmp_path, "record", "--out", str(out), "--duration", "5"))
    assert line == f"mirrorwatch: --out {out}: no such directory: {out.parent}"


def _pair(tmp_path: Path) -> None:
    wrists = ("--left", "C4:4F:33:6A:00:01", "--right", "C4:4F:33:6A:00:02")
    r = _run(tmp_path, "pair", *wrists, "--no-bond")
    assert r.returncode == 0, r.stderr


def test_pair_makes_its_config_directories_owner_only(tmp_path: Path) -> None:
    _pair(tmp_path)
    for d in (tmp_path / "config", tmp_path / "config" / "mirrorwatch"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    toml = tmp_path / "config" / "mirrorwatch" / "mirrorwatch.toml"
    assert stat.S_IMODE(toml.stat().st_mode) == 0o600


def test_without_bluetooth_every_ble_verb_says_the_same_line_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    scan = _one_line(_run(tmp_path, "scan", "--seconds", "1"))
    assert scan.startswith("mirrorwatch: Bluetooth is not available: BlueZ or the system D-Bus")
    # pair writes the config, then says it could not bond, in the same words, exit 1
    wrists = ("--left", "C4:4F:33:6A:00:01", "--right", "C4:4F:33:6A:00:02")
    r = _run(tmp_path, "pair", *wrists)
    assert r.returncode == 1, r.stderr
    assert r.stderr == scan.replace("mirrorwatch: ", "mirrorwatch: not bonded: ", 1) + (
        "; run pair again on the gateway (--no-bond: only write the config)\n"
    )
    toml = tmp_path / "config" / "mirrorwatch" / "mirrorwatch.toml"
    assert "C4:4F:33:6A:00:02" in toml.read_text(encoding="utf-8")
    out = tmp_path / "wrists.csv"
    runs = {
        "monitor": ("monitor", "--source", "ble", "--subject", "s1"),
        "assess": ("assess", "--protocol", "woods-teuber", "--source", "ble", "--subject",
                   "s1", "--yes"),
        "record": ("record", "--source", "ble", "--duration", "5", "--out", str(out)),
    }  # fmt: skip
    for verb, args in runs.items():
        assert _one_line(_run(tmp_path, *args)) == scan, verb
    assert not out.exists()  # no header-only recording
    assert list(tmp_path.glob(".part*")) == []
    data = tmp_path / "data"
    if (data / "spool.sqlite").exists():
        with Spool.in_dir(data) as spool:
            assert spool.sessions() == []  # no "interrupted" session left behind


def test_speed_zero_is_one_line(tmp_path: Path) -> None:
    line = _one_line(_run(tmp_path, "demo", "--speed", "0"))
    assert line == (
        "mirrorwatch demo: argument --speed: speed must be > 0 (see mirrorwatch demo --help)"
    )


def test_status_drops_an_error_once_a_delivery_succeeded_after_it(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path / "data") as spool:
        spool.note_delivery_error("http://db:8086 answered 503")
    r = _run(tmp_path, "status")
    assert "error    http://db:8086 answered 503" in r.stdout
    time.sleep(0.01)  # the delivery comes after the error on the wall clock
    with Spool.in_dir(tmp_path / "data") as spool:  # one sample, delivered
        info = spool.start_session(subject="P01", source="x", mode="demo", started_at=1e9)
        block = ImuBlock(side=Side.L, t=np.zeros(1), acc=np.zeros((1, 3)), gyr=None)
        spool.add_samples(info.id, [block])
        spool.acknowledge(spool.pending(Stream.SAMPLES, 1))
    r = _run(tmp_path, "status")
    assert r.returncode == 0, r.stderr
    assert "\nerror " not in r.stdout
    assert "last ok" in r.stdout
    doc = json.loads(_run(tmp_path, "status", "--json").stdout)
    assert doc["last_error"] is None


def _point_times_s(data: Path) -> list[float]:
    with Spool.in_dir(data) as spool:
        lines = [o.line for o in spool.pending(Stream.EVENTS, 10_000)]
    assert lines
    return [int(line.rsplit(" ", 1)[1]) / 1e9 for line in lines]


def test_a_replayed_recording_is_stamped_with_its_own_time(tmp_path: Path) -> None:
    rec = tmp_path / "old.csv"
    r = _run(tmp_path, "record", "--out", str(rec), "--duration", "60", "--seed", "4")
    assert r.returncode == 0, r.stderr
    start = re.search(r"^# start: (.+)$", rec.read_text(encoding="utf-8"), re.M)
    assert start is not None
    text = rec.read_text(encoding="utf-8").replace(start.group(0), "# start: 2020-01-02T03:04:05Z")
    rec.write_text(text, encoding="utf-8")
    r = _run(tmp_path, "analyze", str(rec))
    assert r.returncode == 0, r.stderr
    origin = 1577934245.0  # 2020-01-02T03:04:05Z
    times = _point_times_s(tmp_path / "data")
    assert all(origin <= t <= origin + 60 for t in times), times[:3]


@pytest.mark.parametrize("speed", ["max", "20"])
def test_a_simulation_faster_than_real_time_is_never_stamped_in_the_future(
    tmp_path: Path, speed: str
) -> None:
    before = time.time()
    r = _run(tmp_path, "demo", "--duration", "120", "--speed", speed)
    assert r.returncode == 0, r.stderr
    times = _point_times_s(tmp_path / "data")
    assert max(times) <= time.time()
    assert min(times) >= before - 130
