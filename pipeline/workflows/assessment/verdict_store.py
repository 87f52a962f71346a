"""The verdict of an assessment kept in the spool: decided once, read back everywhere after.

`assess` stores the verdict when the session ends, in one transaction: the whole
verdict at full precision as a session note (what `report` and `events` read later,
so a spool whose raw samples were since pruned cannot change it), and one row per
hand in the `verdicts` table, which the outbox delivers to InfluxDB as measurement
`verdict` (pipeline/store/lineproto.py) like any other point: an outage loses nothing.
"""

from __future__ import annotations

import dataclasses
import json

from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool
from pipeline.workflows.assessment.protocol import Hand, Limits
from pipeline.workflows.assessment.scoring import Stats
from pipeline.workflows.assessment.verdict import (
    HandVerdict,
    PlannedTask,
    State,
    TaskOutcome,
    Verdict,
    checks,
)
from sensors.types import Side

VERDICT_NOTE = "verdict"


def store_verdict(spool: Spool, session_id: str, verdict: Verdict, t: float) -> None:
    """Keep `verdict`, reached at session time `t` (s), and queue it for delivery."""
    Aggregates(spool)  # its session_notes table, if this spool has none yet
    rows = [
        (session_id, t, side.value, json.dumps(verdict.hands[side].to_json_dict())) for side in Side
    ]
    with spool.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO session_notes (session_id, key, value) VALUES (?, ?, ?)",
            (session_id, VERDICT_NOTE, to_note(verdict)),
        )
        db.executemany(
            "INSERT INTO verdicts (session_id, t, task_hand, data) VALUES (?, ?, ?, ?)", rows
        )


def stored_verdict(agg: Aggregates, session_id: str) -> Verdict | None:
    """The verdict `assess` stored for the session, None if it stored none (older spools)."""
    text = agg.note(session_id, VERDICT_NOTE)
    return None if text is None else from_note(text)


def to_note(v: Verdict) -> str:
    """The verdict at full precision, enough to rebuild it exactly."""
    return json.dumps(
        {
            "limits": dataclasses.asdict(v.limits),
            "hands": [
                {
                    "task_hand": h.task_hand.value,
                    "state": h.state.value,
                    "stats": dataclasses.asdict(h.stats),
                    "reasons": list(h.reasons),
                    "tasks_done": h.tasks_done,
                    "tasks_planned": h.tasks_planned,
                }
                for h in v.hands.values()
            ],
            "tasks": [
                {
                    "name": t.task.name,
                    "active": t.task.active.value,
                    "required": t.task.required,
                    "status": t.status,
                    "attempts": t.attempts,
                    "data": t.data,
                    "below_floor": t.below_floor,
                }
                for t in v.tasks
            ],
        }
    )


def from_note(text: str) -> Verdict:
    d = json.loads(text)
    limits = Limits(**d["limits"])
    hands = {}
    for h in d["hands"]:
        stats = Stats(**h["stats"])
        side = Side(h["task_hand"])
        hands[side] = HandVerdict(
            side,
            State(h["state"]),
            stats,
            checks(stats, limits),
            tuple(h["reasons"]),
            int(h["tasks_done"]),
            int(h["tasks_planned"]),
        )
    tasks = tuple(
        TaskOutcome(
            PlannedTask(t["name"], Hand(t["active"]), bool(t["required"])),
            t["status"],
            int(t["attempts"]),
            t["data"],
            bool(t["below_floor"]),
        )
        for t in d["tasks"]
    )
    return Verdict(hands, tasks, limits)
