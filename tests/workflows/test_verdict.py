"""Each verdict state end to end, through `mirrorwatch assess` as an examiner runs it.

A short protocol (rest, then two tasks per hand) keeps each run to seconds; every
run is checked on stdout, in `--json`, in the report and in the exit code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from workflow_run import mirrorwatch

from pipeline.commands.assess import simulate_protocol
from pipeline.store.aggregates import Aggregates
from pipeline.store.outbox import Stream
from pipeline.store.spool import Spool
from pipeline.workflows.assessment.protocol import parse_protocol
from pipeline.workflows.assessment.results import load_assessment
from pipeline.workflows.assessment.timeline import nominal_schedule, session_length
from pipeline.workflows.assessment.verdict import EXIT_INCOMPLETE
from sensors.recording import write_recording
from sensors.types import Side

SHORT = """
name = "short"
countdown = 1.0
rest = 2.0
[limits]
mirror_share = 0.3
median_ratio = 0.15
worst_grade = 2
data_floor = 0.9
[[task]]
name = "rest"
instruction = "Sit still."
active = "none"
duration = 5.0
[[task]]
name = "tap-R"
instruction = "Tap right."
active = "R"
motion = "tapping"
period = 2.0
repetitions = 4
[[task]]
name = "grip-R"
instruction = "Grip right."
active = "R"
motion = "grip"
period = 2.0
repetitions = 4
[[task]]
name = "tap-L"
instruction = "Tap left."
active = "L"
motion = "tapping"
period = 2.0
repetitions = 4
[[task]]
name = "grip-L"
instruction = "Grip left."
active = "L"
motion = "grip"
period = 2.0
repetitions = 4
"""
SEED = 3


def _protocol_file(tmp_path: Path, text: str = SHORT) -> Path:
    path = tmp_path / "short.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _recording(tmp_path: Path, *, cut: float | None = None, loss: float = 0.0) -> Path:
    """The short protocol performed by a simulated subject, as a recording file."""
    protocol = parse_protocol(SHORT, "short", "test")
    sim = simulate_protocol(protocol, SEED, loss_rate=loss)
    blocks = [b for b in sim.blocks() if cut is None or b.t[0] < cut]
    path = tmp_path / "subject.csv"
    write_recording(path, blocks, {"subject": "s1", "fs": "100"})
    return path


def _assess(tmp_path: Path, source: str, *extra: str) -> tuple[int, dict[str, Any]]:
    """`assess --json`: exit code and the verdict document."""
    data = tmp_path / "data"
    r = mirrorwatch(
        data, "assess", "--protocol", str(_protocol_file(tmp_path)), "--subject", "s1",
        "--source", source, "--speed", "max", "--yes", "--seed", str(SEED), "--json", *extra,
    )  # fmt: skip
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout + r.stderr  # --json: one object on stdout, nothing else
    return r.returncode, json.loads(lines[0])


def _states(doc: dict[str, Any]) -> dict[str, str]:
    hands = doc["hands"]
    return {h["task_hand"]: h["state"] for h in hands}


def test_a_complete_session_exits_0_with_both_hands_judged(tmp_path: Path) -> None:
    code, doc = _assess(tmp_path, "simulated")
    assert code == 0
    assert doc["complete"] is True
    assert set(_states(doc).values()) <= {"within limits", "outside limits"}
    hands = doc["hands"]
    assert isinstance(hands, list)
    assert {(h["task_hand"], h["mirror_hand"]) for h in hands} == {("L", "R"), ("R", "L")}
    _same_verdict_everywhere(tmp_path / "data", doc)


def _same_verdict_everywhere(data: Path, doc: dict[str, Any]) -> None:
    """`events` (JSON and table) and the rows queued for InfluxDB carry the verdict
    `assess --json` printed, hand for hand."""
    session = str(doc["session"])
    r = mirrorwatch(data, "events", "--session", session, "--format", "json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    verdicts = [d for d in lines if d["type"] == "verdict"]
    assert {d["type"] for d in lines[: -len(verdicts)]} <= {"movement"}  # verdicts come last
    assert [d.pop("session") for d in verdicts] == [session, session]
    assert [d.pop("complete") for d in verdicts] == [doc["complete"]] * 2
    assert [{k: v for k, v in d.items() if k != "type"} for d in verdicts] == doc["hands"]
    table = mirrorwatch(data, "events", "--session", session).stdout
    with Spool.in_dir(data) as spool:
        a = load_assessment(spool, Aggregates(spool), spool.session(session))
        queued = [o.line for o in spool.pending(Stream.VERDICTS, 10)]
    for side in Side:
        assert a.verdict.hands[side].line() in table
    assert len(queued) == 2
    for hand, line in zip(doc["hands"], queued, strict=True):
        state = str(hand["state"]).replace(" ", "\\ ")
        assert line.startswith(
            f"verdict,subject=s1,session={session},task_hand={hand['task_hand']},"
            f"mirror_hand={hand['mirror_hand']},state={state} movements={hand['movements']}i,"
        )


def test_a_recording_shorter_than_the_protocol_is_incomplete(tmp_path: Path) -> None:
    # the recording ends during tap-L: grip-L never runs, tap-L is stopped
    protocol = parse_protocol(SHORT, "short", "test")
    tap_l = next(w for w in nominal_schedule(protocol) if w.name == "tap-L")
    code, doc = _assess(tmp_path, str(_recording(tmp_path, cut=tap_l.start + 3.0)))
    assert code == EXIT_INCOMPLETE
    assert doc["complete"] is False
    states = _states(doc)
    assert states["L"] == "incomplete"
    assert states["R"] in ("within limits", "outside limits")  # its tasks all ran
    tasks = {t["name"]: t["status"] for t in doc["tasks"]}
    assert tasks["grip-L"] == "not run"
    assert tasks["tap-L"] == "stopped"
    report = Path(str(doc["report"])).read_text(encoding="utf-8")
    assert "ASSESSMENT INCOMPLETE" in report
    assert "NOT RUN" in report
    assert "REPLAYED SESSION" in report
    _same_verdict_everywhere(tmp_path / "data", doc)


def test_data_loss_over_the_floor_is_incomplete(tmp_path: Path) -> None:
    code, doc = _assess(tmp_path, str(_recording(tmp_path, loss=0.3)))
    assert code == EXIT_INCOMPLETE
    assert _states(doc) == {"L": "incomplete", "R": "incomplete"}
    hands = doc["hands"]
    assert isinstance(hands, list)
    assert any("data 7" in r for r in hands[0]["reasons"])  # ~70 % of the samples


def test_a_protocol_that_never_tests_one_hand_does_not_assess_it(tmp_path: Path) -> None:
    right_only = SHORT[: SHORT.index('[[task]]\nname = "tap-L"')]
    data = tmp_path / "data"
    path = _protocol_file(tmp_path, right_only)
    r = mirrorwatch(
        data, "assess", "--protocol", str(path), "--subject", "s1", "--speed", "max", "--yes",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (
        "right hand mirroring, in left-hand tasks: NOT ASSESSED "
        "(the protocol has no left-hand task)" in r.stdout
    )
    # never "0 movements ... within limits" for the untested hand
    assert "left hand mirroring, in right-hand tasks: " in r.stdout


def test_sigint_mid_protocol_is_incomplete_and_keeps_what_was_recorded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "MIRRORWATCH_DATA_DIR": str(data), "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "assess", "--protocol",
         str(_protocol_file(tmp_path)), "--subject", "s1", "--speed", "4", "--yes"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if "go: grip-R" in line:
            break
    else:
        raise AssertionError("".join(seen))
    time.sleep(1.0)  # inside grip-R
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INCOMPLETE, "".join(seen) + err
    assert "left hand mirroring, in right-hand tasks: INCOMPLETE (grip-R stopped)" in out
    assert "right hand mirroring, in left-hand tasks: INCOMPLETE (tap-L not run" in out
    assert "ASSESSMENT INCOMPLETE" in out
    with Spool.in_dir(data) as spool:
        info = spool.session("latest")
        assert info.end_reason == "stopped"
        a = load_assessment(spool, Aggregates(spool), info)
        protocol = parse_protocol(SHORT, "short", "test")
        grip_r = next(w for w in nominal_schedule(protocol) if w.name == "grip-R")
        # everything up to the interruption is kept: samples into grip-R, tap-R's events
        for side in Side:
            block = spool.samples(info.id, side)
            assert block is not None
            assert grip_r.start < float(block.t[-1]) < session_length(nominal_schedule(protocol))
        assert any(e.task == "tap-R" for e in a.events)
