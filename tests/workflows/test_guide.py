"""The examiner's guide as a state machine: schedule, cues, pause, repeat, skip."""

from __future__ import annotations

import numpy as np

from pipeline.workflows.assessment.guide import Guide, Phase, Say, SetTask, Step
from pipeline.workflows.assessment.protocol import load_protocol
from pipeline.workflows.assessment.timeline import Status, nominal_schedule

PROTOCOL = load_protocol("firearm-handling")


def walk(guide: Guide, until: float, step: float = 0.04) -> list[Step]:
    out: list[Step] = []
    for t in np.arange(0.0, until, step):
        out += guide.advance(float(t))
    return out


def test_uninterrupted_run_follows_the_nominal_schedule() -> None:
    guide = Guide(PROTOCOL)
    steps = walk(guide, 420.0)
    assert guide.phase is Phase.FINISHED
    nominal = nominal_schedule(PROTOCOL)
    assert guide.windows == nominal
    tasks = [s for s in steps if isinstance(s, SetTask)]
    # each task starts at its window and is closed at its end, in time order
    assert [(s.name, s.start) for s in tasks if s.name] == [(w.name, w.start) for w in nominal]
    assert [s.start for s in tasks] == sorted(s.start for s in tasks)
    beats = [s for s in steps if isinstance(s, Say) and s.text.strip().startswith("beat")]
    assert len(beats) == sum(w.expected for w in nominal)
    assert [b.t for b in beats] == [c for w in nominal for c in w.cues]


def test_pause_repeat_and_skip_are_recorded_and_only_done_attempts_count() -> None:
    guide = Guide(PROTOCOL)
    walk(guide, 50.0)  # inside trigger-R (44-65 s)
    guide.repeat(50.0)
    steps = walk_from(guide, 50.0, 60.0)
    guide.pause(60.0)
    assert guide.phase is Phase.PAUSED
    assert walk_from(guide, 60.0, 100.0) == []  # nothing happens while paused
    guide.resume(100.0)
    walk_from(guide, 100.0, 110.0)  # countdown 100-103, running from 103
    guide.skip(110.0)
    w = guide.windows
    assert [(x.name, x.status) for x in w[1:]] == [
        ("trigger-R", Status.REPEATED),
        ("trigger-R", Status.PAUSED),
        ("trigger-R", Status.SKIPPED),
    ]
    assert w[-1].start == 103.0
    assert w[-1].end == 110.0
    assert any(isinstance(s, SetTask) and s.name == "trigger-R" and s.start == 53.0 for s in steps)
    later = walk_from(guide, 110.0, 120.0)
    started = [s for s in later if isinstance(s, SetTask) and s.name]
    assert [(s.name, s.start) for s in started] == [("trigger-L", 113.0)]


def walk_from(guide: Guide, start: float, until: float) -> list[Step]:
    out: list[Step] = []
    for t in np.arange(start, until, 0.04):
        out += guide.advance(float(t))
    return out


def test_skipping_during_a_countdown_lists_the_task_as_not_done() -> None:
    guide = Guide(PROTOCOL)
    walk(guide, 42.0)  # trigger-R's countdown runs 41-44 s
    guide.skip(42.0)
    assert (guide.windows[-1].name, guide.windows[-1].status) == ("trigger-R", Status.SKIPPED)
    assert guide.windows[-1].expected == 0
    later = walk_from(guide, 42.0, 50.0)
    assert [(s.name, s.start) for s in later if isinstance(s, SetTask) and s.name] == [
        ("trigger-L", 45.0)
    ]
