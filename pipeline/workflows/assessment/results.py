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
from pipeline.workflows.assessment.protocol import Limits
from pipeline.workflows.assessment.scoring import HandResult, TaskScore, hand_results, score_tasks
from pipeline.workflows.assessment.timeline import Window, windows_from_json, windows_to_json
from sensors.types import FloatArray, Side

TIMELINE_NOTE = "timeline"
LIMITS_NOTE = "limits"


@dataclass(frozen=True, slots=True)
class Assessment:
    """A scored assessment session."""

    info: SessionInfo
    windows: list[Window]
    events: list[MovementEvent]
    tasks: list[TaskScore]
    hands: dict[Side, HandResult]
    limits: Limits
    fs: float


def save_plan(agg: Aggregates, session_id: str, limits: Limits) -> None:
    """What scoring needs besides the events, known at the start: the reference limits."""
    agg.set_note(session_id, LIMITS_NOTE, json.dumps(dataclasses.asdict(limits)))


def save_timeline(agg: Aggregates, session_id: str, windows: list[Window]) -> None:
    agg.set_note(session_id, TIMELINE_NOTE, windows_to_json(windows))


def load_assessment(spool: Spool, agg: Aggregates, info: SessionInfo) -> Assessment:
    """Score a stored assessment; SpoolError if the session is not one."""
    timeline = agg.note(info.id, TIMELINE_NOTE)
    if info.mode != "assess" or timeline is None:
        raise SpoolError(f"session {info.id} is not a finished assessment (mode {info.mode})")
    limits_text = agg.note(info.id, LIMITS_NOTE)
    limits = Limits(**json.loads(limits_text)) if limits_text else Limits()
    windows = windows_from_json(timeline)
    events = sorted((s.event for s in spool.events(info.id)), key=lambda e: e.t_onset)
    fs = float(info.meta.get("fs", "100"))
    times: dict[Side, FloatArray] = {}
    for side in Side:
        block = spool.samples(info.id, side)
        times[side] = np.zeros(0) if block is None else block.t
    return Assessment(
        info=info,
        windows=windows,
        events=events,
        tasks=score_tasks(windows, events, times, fs),
        hands=hand_results(windows, events, limits),
        limits=limits,
        fs=fs,
    )
