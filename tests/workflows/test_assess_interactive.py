"""`assess` at a terminal: Enter starts, `s` skips the running task (through a pty)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool
from pipeline.workflows.assessment.results import load_assessment
from pipeline.workflows.assessment.timeline import Status
from pipeline.workflows.assessment.verdict import EXIT_INCOMPLETE, State
from sensors.types import Side

PROTOCOL = """
name = "tiny"
countdown = 1.0
rest = 2.0
[[task]]
name = "still"
instruction = "Do not move."
active = "none"
duration = 4.0
[[task]]
name = "grip-R"
instruction = "Squeeze on each beat."
active = "R"
motion = "grip"
period = 2.0
repetitions = 6
[[task]]
name = "grip-L"
instruction = "Squeeze on each beat."
active = "L"
motion = "grip"
period = 2.0
repetitions = 3
"""


def test_enter_starts_and_s_skips_the_running_task(tmp_path: Path) -> None:
    protocol = tmp_path / "tiny.toml"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    data = tmp_path / "data"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "assess", "--protocol", str(protocol),
         "--subject", "S01", "--speed", "4"],
        stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path,
        env={**os.environ, "MIRRORWATCH_DATA_DIR": str(data)},
    )  # fmt: skip
    os.close(slave)
    seen = b""
    sent: set[bytes] = set()
    deadline = time.monotonic() + 90
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
        if b"Press Enter" in seen and b"\n" not in sent:
            os.write(master, b"\n")
            sent.add(b"\n")
        if b"go: grip-R" in seen and b"s" not in sent:
            os.write(master, b"s")
            sent.add(b"s")
    proc.wait(timeout=30)
    os.close(master)
    # a required task skipped: its hand's verdict is incomplete, and so is the assessment
    assert proc.returncode == EXIT_INCOMPLETE, seen.decode(errors="replace")[-2000:]
    assert b"skipped" in seen
    assert b"in right-hand tasks: INCOMPLETE (grip-R skipped)" in seen
    with Spool.in_dir(data) as spool:
        a = load_assessment(spool, Aggregates(spool), spool.session("latest"))
    statuses = [(w.name, w.status) for w in a.windows]
    assert statuses == [
        ("still", Status.DONE),
        ("grip-R", Status.SKIPPED),
        ("grip-L", Status.DONE),
    ]
    skipped = a.windows[1]
    assert skipped.end - skipped.start < 12.0  # cut short of its 12 s
    assert not a.tasks[1].scored
    assert a.verdict.hands[Side.R].state is State.INCOMPLETE
    # the simulated subject kept to the nominal schedule, so grip-L, moved earlier by the
    # skip, saw no movement: that is no measurement, never "within limits"
    left = a.verdict.hands[Side.L]
    assert (left.state, left.reasons) == (
        State.INCOMPLETE,
        ("no decidable left-hand movement detected",),
    )
