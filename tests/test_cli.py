"""The `mirrorwatch` command end to end, through a subprocess as a user runs it."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.engine.events import MovementEvent


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIRRORWATCH_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("rec")
    out = tmp / "drill.csv.gz"
    r = _run(tmp, "record", "--out", str(out), "--duration", "90", "--seed", "4")
    assert r.returncode == 0, r.stderr
    return out


def test_demo_runs_into_the_spool_and_prints_a_summary(tmp_path: Path) -> None:
    r = _run(tmp_path, "demo", "--duration", "60")
    assert r.returncode == 0, r.stderr
    assert "session " in r.stdout
    rows = [line for line in r.stdout.splitlines() if line[:2] in ("L ", "R ")]
    assert len(rows) == 2
    assert (tmp_path / "data" / "spool.sqlite").is_file()
    listed = _run(tmp_path, "events", "--session", "latest", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    stored = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(stored) >= 5
    assert all(d["type"] == "movement" for d in stored)


def test_analyze_json_prints_only_event_lines(tmp_path: Path, recording: Path) -> None:
    r = _run(tmp_path, "analyze", str(recording), "--json")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) >= 10
    for line in lines:
        event = MovementEvent.from_json_dict(json.loads(line))
        assert event.t_onset <= event.detected_at <= event.decided_at
    decided = [json.loads(line)["decided_at"] for line in lines]
    assert decided == sorted(decided)


def test_analyze_is_the_same_on_csv_and_gz(tmp_path: Path, recording: Path) -> None:
    plain = tmp_path / "drill.csv"
    plain.write_bytes(gzip.decompress(recording.read_bytes()))
    a = _run(tmp_path, "analyze", str(recording), "--json", "--no-store")
    b = _run(tmp_path, "analyze", str(plain), "--json", "--no-store")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout


def test_events_as_csv_and_table(tmp_path: Path) -> None:
    assert _run(tmp_path, "demo", "--duration", "40", "--seed", "2").returncode == 0
    r = _run(tmp_path, "events", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows
    assert {"session", "t_onset", "kind", "completeness_L"} <= set(rows[0])
    table = _run(tmp_path, "events")
    assert table.returncode == 0
    assert "kind" in table.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("t,side,ax,ay,az,gx,gy\n0.0,L,0,0,9.8,0,0\n", "missing column"),
        ("", "no header"),
    ],
)
def test_bad_recording_is_one_line_and_exit_2(tmp_path: Path, content: str, needle: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    r = _run(tmp_path, "analyze", str(bad), "--json")
    assert r.returncode == 2
    assert r.stdout == ""
    err = r.stderr.strip().splitlines()
    assert len(err) == 1, r.stderr
    assert "bad.csv" in err[0]
    assert needle in err[0]
    assert "Traceback" not in r.stderr


def test_skipped_rows_are_reported_not_fatal(tmp_path: Path, recording: Path) -> None:
    text = gzip.decompress(recording.read_bytes()).decode()
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("t,"))
    lines.insert(header + 5, "0.5,X,0,0,9.8,0,0,0")
    lines.insert(header + 9, "0.7,L,nan,0,9.8,0,0,0")
    damaged = tmp_path / "damaged.csv"
    damaged.write_text("\n".join(lines) + "\n")
    r = _run(tmp_path, "analyze", str(damaged), "--json", "--no-store")
    assert r.returncode == 0, r.stderr
    assert "skipped 2" in r.stderr
    assert r.stdout.strip()


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "mirrorwatch.toml"
    cfg.write_text("[engine]\nk_onn = 3\n")
    r = _run(tmp_path, "--config", str(cfg), "demo", "--duration", "10")
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert line.startswith("mirrorwatch: ")
    assert "engine.k_onn: unknown key; did you mean `k_on`?" in line
    # nothing written: the file as it was, no data directory, no spool
    assert cfg.read_text() == "[engine]\nk_onn = 3\n"
    assert not (tmp_path / "data").exists()


def test_unknown_session_is_a_usage_error(tmp_path: Path) -> None:
    assert _run(tmp_path, "demo", "--duration", "10").returncode == 0
    r = _run(tmp_path, "events", "--session", "nonexistent")
    assert r.returncode == 2
    assert "nonexistent" in r.stderr
