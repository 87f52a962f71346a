"""An assessment session read back from the spool and scored: for the CLI and the report."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from pipeline.engine.events import MovementEvent
from pipeline.store.aggregates import Aggregates
from pipeline.store.sessions import SessionInfo
from pipeline.store.spool import Spool, SpoolError
from pipeline.workflows.assessment.protocol import Hand, Limits, Protocol
from pipeline.workflows.assessment.scoring import TaskScore, score_tasks
from pipeline.workflows.assessment.timeline import Window, windows_from_json, windows_to_json
from pipeline.workflows.assessment.verdict import PlannedTask, Verdict, decide
from pipeline.workflows.assessment.verdict_store import stored_verdict
from sensors.types import FloatArray, Side

TIMELINE_NOTE = "timeline"
LIMITS_NOTE = "limits"
TASKS_NOTE = "tasks"


@dataclass(frozen=True, slots=True)
class Assessment:
    """A scored assessment session; `plan` every protocol task, run or not."""

    info: SessionInfo
    windows: list[Window]
    events: list[MovementEvent]
    tasks: list[TaskScore]
    plan: list[PlannedTask]
    verdict: Verdict
    limits: Limits
    fs: float


def save_plan(agg: Aggregates, session_id: str, protocol: Protocol) -> None:
    """What scoring needs besides the events, known at the start: the reference limits
    and every task of the protocol (so a task never run is still listed)."""
    agg.set_note(session_id, LIMITS_NOTE, json.dumps(dataclasses.asdict(protocol.limits)))
    tasks = [
        {"name": t.name, "active": t.active.value, "required": t.required} for t in protocol.tasks
    ]
    agg.set_note(session_id, TASKS_NOTE, json.dumps(tasks))


def save_timeline(agg: Aggregates, session_id: str, windows: list[Window]) -> None:
    agg.set_note(session_id, TIMELINE_NOTE, windows_to_json(windows))


def load_assessment(spool: Spool, agg: Aggregates, info: SessionInfo) -> Assessment:
    """Score a stored assessment; SpoolError if the session is not one.

    The verdict is the one `assess` stored when the session ended, when there is one:
    it was decided on the data as it was then (raw samples may since have been pruned).
    """
    timeline = agg.note(info.id, TIMELINE_NOTE)
    if info.mode != "assess" or timeline is None:
        raise SpoolError(f"session {info.id} is not a finished assessment (mode {info.mode})")
    limits_text = agg.note(info.id, LIMITS_NOTE)
    limits = Limits(**json.loads(limits_text)) if limits_text else Limits()
    windows = windows_from_json(timeline)
    tasks_text = agg.note(info.id, TASKS_NOTE)
    if tasks_text is not None:
        plan = [
            PlannedTask(str(d["name"]), Hand(str(d["active"])), bool(d["required"]))
            for d in json.loads(tasks_text)
        ]
    else:  # stored before plans were kept: the tasks attempted, each required
        names = dict.fromkeys((w.name, w.active) for w in windows)
        plan = [PlannedTask(name, active, True) for name, active in names]
    events = sorted((s.event for s in spool.events(info.id)), key=lambda e: e.t_onset)
    fs = float(info.meta.get("fs", "100"))
    times: dict[Side, FloatArray] = {}
    for side in Side:
        block = spool.samples(info.id, side)
        times[side] = np.zeros(0) if block is None else block.t
    scores = score_tasks(windows, events, times, fs)
    return Assessment(
        info=info,
        windows=windows,
        events=events,
        tasks=scores,
        plan=plan,
        verdict=stored_verdict(agg, info.id) or decide(plan, limits, scores, events),
        limits=limits,
        fs=fs,
    )
