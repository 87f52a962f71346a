"""Tasks on the session clock: when each one ran, and the nominal schedule of a protocol."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.workflows.assessment.protocol import Hand, Protocol, ProtocolTask
from sensors.scenarios import ScriptedTask

END_MARGIN = 2.0  # s of data after the last task, so its last movement can be decided


class Status(StrEnum):
    """How a task attempt ended; only DONE attempts are scored."""

    DONE = "done"
    SKIPPED = "skipped"  # the examiner moved on before its end
    REPEATED = "repeated"  # abandoned and started again
    PAUSED = "paused"  # interrupted by a pause, run again on resume
    STOPPED = "stopped"  # the session ended during it


@dataclass(frozen=True, slots=True)
class Window:
    """One attempt at a task, from `start` to `end` s of session time.

    `expected` cued movements; `cues` the metronome beats, s.
    """

    name: str
    active: Hand
    start: float
    end: float
    expected: int
    cues: tuple[float, ...]
    status: Status = Status.DONE

    def to_json_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "active": self.active.value,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "expected": self.expected,
            "cues": [round(c, 3) for c in self.cues],
            "status": self.status.value,
        }

    @classmethod
    def from_json_dict(cls, d: dict[str, object]) -> Window:
        cues = d["cues"]
        assert isinstance(cues, list)  # written by to_json_dict
        return cls(
            name=str(d["name"]),
            active=Hand(str(d["active"])),
            start=float(str(d["start"])),
            end=float(str(d["end"])),
            expected=int(str(d["expected"])),
            cues=tuple(float(c) for c in cues),
            status=Status(str(d["status"])),
        )


def cues(task: ProtocolTask, start: float) -> tuple[float, ...]:
    """The metronome beats of `task` started at `start` s: one per repetition."""
    if task.period is None:
        return ()
    return tuple(start + k * task.period for k in range(task.repetitions))


def nominal_schedule(protocol: Protocol) -> list[Window]:
    """Every task run once, in order, each after its countdown: what a session follows
    when nobody pauses, repeats or skips (the guide computes its times the same way)."""
    out: list[Window] = []
    t = 0.0
    for task in protocol.tasks:
        start = t + protocol.countdown
        end = start + task.duration
        out.append(Window(task.name, task.active, start, end, task.repetitions, cues(task, start)))
        t = end + task.rest
    return out


def session_length(windows: Sequence[Window]) -> float:
    """s of data a session of these windows needs."""
    return max(w.end for w in windows) + END_MARGIN


def scripted(protocol: Protocol, windows: Sequence[Window]) -> list[ScriptedTask]:
    """The windows as the simulator's script: who moves what on which beat."""
    by_name = {t.name: t for t in protocol.tasks}
    return [ScriptedTask(w.name, by_name[w.name].motion, w.active.side, w.cues) for w in windows]


def windows_to_json(windows: Sequence[Window]) -> str:
    return json.dumps([w.to_json_dict() for w in windows], separators=(",", ":"))


def windows_from_json(text: str) -> list[Window]:
    return [Window.from_json_dict(d) for d in json.loads(text)]
