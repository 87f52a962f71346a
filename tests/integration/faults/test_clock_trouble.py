"""Recordings whose clock misbehaves, through `mirrorwatch analyze` in a real process.

`mirrorwatch record` writes a simulated session (70 s, 100 Hz; the right hand moves
at 33-51 s, the left at 67 s). Then the right wrist's times are changed from 40 s on
as a misbehaving logger would write them, rows kept in the order written: its clock
restarts at zero, is set back 2 s, stands still for 2 s, or jumps an hour ahead.
A restart or a step back is undone, so the engine finds exactly the movements of the
clean file; the stalled rows are skipped as duplicates and said so on stderr; the jump
ahead is a gap. Every run exits 0 with no traceback, and no event has a negative
duration, lag or latency.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faults_run import mirrorwatch

FAULT_AT = 40.0  # s


def _faulty(clean: Path, out: Path, change: Callable[[float], float]) -> Path:
    """`clean` with the right wrist's times changed, every row where it was."""
    lines = clean.read_text().splitlines(keepends=True)
    rows = []
    for line in lines:
        t, _, rest = line.partition(",")
        if rest.startswith("R,") and not line.startswith("#"):
            rows.append(f"{change(float(t)):.6f},{rest}")
        else:
            rows.append(line)
    out.write_text("".join(rows))
    return out


def _analyze(home: Path, path: Path) -> tuple[list[dict[str, Any]], str]:
    run = mirrorwatch(home, home / "data", "analyze", str(path), "--json", "--no-store")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    for e in events:
        assert e["t_offset"] is None or e["t_offset"] >= e["t_onset"], e
        assert e["lag_ms"] is None or e["lag_ms"] >= 0, e
        assert e["detected_at"] >= e["t_onset"], e
        assert e["decided_at"] >= e["detected_at"], e
    return events, run.stderr


def _key(e: dict[str, Any]) -> tuple[str, str, float]:
    return e["active"], e["kind"], round(e["t_onset"], 2)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    home = tmp_path_factory.mktemp("clean")
    path = home / "clean.csv"
    args = ("record", "--scenario", "firearm-drill", "--duration", "70", "--out", str(path))
    run = mirrorwatch(home, home / "data", *args)
    assert run.returncode == 0, run.stderr
    events, stderr = _analyze(home, path)
    assert stderr == ""
    # movements of the right hand after the fault, so a broken clock would show
    assert sum(e["active"] == "R" and e["t_onset"] > FAULT_AT + 2 for e in events) >= 3
    return path, events


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("restart at zero", lambda t: t - FAULT_AT if t >= FAULT_AT else t),
        ("set back 2 s", lambda t: t - 2.0 if t >= FAULT_AT else t),
    ],
)
def test_clock_set_back_or_restarted_gives_the_clean_events(
    tmp_path: Path,
    clean: tuple[Path, list[dict[str, Any]]],
    name: str,
    change: Callable[[float], float],
) -> None:
    path, want = clean
    events, stderr = _analyze(tmp_path, _faulty(path, tmp_path / "jump.csv", change))
    assert [_key(e) for e in events] == [_key(e) for e in want], name
    assert "skipped" not in stderr  # no row lost to the jump
    assert "clock set back 1 time(s), undone" in stderr  # counted and said


def test_stalled_clock_rows_skipped_and_said(
    tmp_path: Path, clean: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, want = clean
    stall = _faulty(path, tmp_path / "stall.csv", lambda t: 40.0 if 40.0 <= t < 42.0 else t)
    events, stderr = _analyze(tmp_path, stall)
    assert "skipped 199 of 14000 rows (199 duplicate timestamp)" in stderr
    assert len(stderr.strip().splitlines()) == 1
    # movements away from the stalled 2 s are those of the clean file
    away = [_key(e) for e in want if not 39.0 < e["t_onset"] < 43.0]
    assert [k for k in map(_key, events) if not 39.0 < k[2] < 43.0] == away


def test_clock_jump_ahead_is_a_gap(
    tmp_path: Path, clean: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, want = clean
    ahead = _faulty(path, tmp_path / "ahead.csv", lambda t: t + 3600 if t >= FAULT_AT else t)
    events, _ = _analyze(tmp_path, ahead)
    before = [_key(e) for e in want if e["t_onset"] < FAULT_AT - 2]
    assert [_key(e) for e in events][: len(before)] == before
    # the right hand's later movements are still found, an hour later, with the left
    # wrist's data missing there
    later = [e for e in events if e["t_onset"] > 3600]
    assert len(later) == sum(e["active"] == "R" and e["t_onset"] > FAULT_AT for e in want)
    assert all(e["kind"] == "indeterminate" and e["completeness"]["L"] == 0 for e in later)
