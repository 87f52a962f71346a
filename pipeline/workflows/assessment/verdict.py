"""The verdict of an assessment, per hand: computed here once, shown the same everywhere.

Pure: from the protocol's plan (which tasks, which are required, the limits) and
what happened (task attempts and their scores), one `Verdict`. The terminal, the
report and `assess --json` all print what this module decides and formats, so an
assessment can never look more complete or more favourable in one than in another.

A verdict is keyed by the *task hand* (the hand asked to move in one-handed tasks);
the hand whose mirror activity is judged is the other one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.engine.events import MovementEvent
from pipeline.workflows.assessment.protocol import GRADE_SCALE_SOURCE, Hand, Limits
from pipeline.workflows.assessment.scoring import Stats, TaskScore, in_window, stats
from pipeline.workflows.assessment.timeline import Status, Window
from sensors.types import Side

EXIT_INCOMPLETE = 3
"""`assess` exits with this when the assessment is incomplete (interrupted, a recording
shorter than the protocol, a required task not done or with too little data)."""

HAND_WORD = {Side.L: "left", Side.R: "right"}


class State(StrEnum):
    """A hand's verdict."""

    WITHIN = "within limits"
    OUTSIDE = "outside limits"
    INCOMPLETE = "incomplete"
    NOT_ASSESSED = "not assessed"


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """A protocol task as the verdict needs it."""

    name: str
    active: Hand
    required: bool


@dataclass(frozen=True, slots=True)
class Check:
    """One number against its limit; `shown` and `shown_limit` are the only roundings used."""

    label: str
    value: float | None
    limit: float
    shown: str
    shown_limit: str
    source: str

    @property
    def exceeded(self) -> bool:
        return self.value is not None and self.value > self.limit

    def text(self) -> str:
        """'mirror share 43% > 30%' (or <=, or '-' when there is no value)."""
        sign = ">" if self.exceeded else "<="
        return f"{self.label} {self.shown} {sign} {self.shown_limit}"


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """What became of one protocol task: `status` of its scored attempt, else of its
    last attempt, else "not run"; `data` the lower wrist's share of expected samples
    in the scored attempt; `attempts` how many times it was started."""

    task: PlannedTask
    status: str
    attempts: int
    data: float | None
    below_floor: bool

    @property
    def done(self) -> bool:
        return self.status == Status.DONE.value

    @property
    def problem(self) -> str | None:
        """Why this task keeps a verdict from being complete, None if it does not."""
        if not self.done:
            return f"{self.task.name} {self.status}"
        if self.below_floor and self.data is not None:
            return f"{self.task.name} data {self.data:.0%}"
        return None


@dataclass(frozen=True, slots=True)
class HandVerdict:
    """The verdict for the tasks of `task_hand`: the other hand's mirror activity."""

    task_hand: Side
    state: State
    stats: Stats
    checks: tuple[Check, ...]
    reasons: tuple[str, ...]  # why incomplete or not assessed
    tasks_done: int
    tasks_planned: int

    @property
    def mirror_hand(self) -> Side:
        return self.task_hand.other

    @property
    def title(self) -> str:
        """'right hand mirroring, in left-hand tasks'."""
        return (
            f"{HAND_WORD[self.mirror_hand]} hand mirroring, "
            f"in {HAND_WORD[self.task_hand]}-hand tasks"
        )

    def line(self) -> str:
        """The verdict as one line: word, hands, then the numbers or the reasons."""
        head = f"{self.title}: {self.state.value.upper()}"
        numbers = "; ".join(c.text() for c in self.checks if c.value is not None)
        if self.state is State.NOT_ASSESSED:
            return f"{head} ({'; '.join(self.reasons)})"
        if self.state is State.INCOMPLETE:
            tail = f"; on the tasks done: {numbers}" if numbers else ""
            return f"{head} ({', '.join(self.reasons)}){tail}"
        return f"{head} - {numbers}"

    def to_json_dict(self) -> dict[str, object]:
        return {
            "task_hand": self.task_hand.value,
            "mirror_hand": self.mirror_hand.value,
            "state": self.state.value,
            "movements": self.stats.movements,
            "mirror": self.stats.mirror,
            "mirror_share": _round(self.stats.mirror_share, 3),
            "median_ratio": _round(self.stats.median_ratio, 3),
            "worst_grade": self.stats.grade_worst,
            "limits": {c.label.replace(" ", "_"): c.limit for c in self.checks},
            "exceeded": [c.label.replace(" ", "_") for c in self.checks if c.exceeded],
            "reasons": list(self.reasons),
            "tasks_done": self.tasks_done,
            "tasks_planned": self.tasks_planned,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """Both hands' verdicts and what became of every protocol task."""

    hands: dict[Side, HandVerdict]
    tasks: tuple[TaskOutcome, ...]
    limits: Limits

    @property
    def complete(self) -> bool:
        """No hand incomplete and every task run to its end (or skipped by the examiner)."""
        unfinished = any(t.status in ("not run", Status.STOPPED.value) for t in self.tasks)
        return not unfinished and all(h.state is not State.INCOMPLETE for h in self.hands.values())

    @property
    def exit_code(self) -> int:
        return 0 if self.complete else EXIT_INCOMPLETE

    def to_json_dict(self) -> dict[str, object]:
        return {
            "complete": self.complete,
            "hands": [self.hands[s].to_json_dict() for s in Side],
            "tasks": [
                {
                    "name": t.task.name,
                    "active": t.task.active.value,
                    "required": t.task.required,
                    "status": t.status,
                    "attempts": t.attempts,
                    "data": _round(t.data, 3),
                }
                for t in self.tasks
            ],
            "limits_source": self.limits.source,
            "grade_scale": GRADE_SCALE_SOURCE,
            "data_floor": self.limits.data_floor,
        }


def checks(s: Stats, limits: Limits) -> tuple[Check, ...]:
    """The three numbers of a hand against the limits, rounded once for every output."""
    share, ratio, worst = s.mirror_share, s.median_ratio, s.grade_worst
    return (
        Check(
            "mirror share",
            share,
            limits.mirror_share,
            _fmt(share, ".0%"),
            f"{limits.mirror_share:.0%}",
            limits.source,
        ),
        Check(
            "median ratio",
            ratio,
            limits.median_ratio,
            _fmt(ratio, ".2f"),
            f"{limits.median_ratio:.2f}",
            limits.source,
        ),
        Check(
            "worst grade",
            None if worst is None else float(worst),
            float(limits.worst_grade),
            _fmt(worst, "d"),
            str(limits.worst_grade),
            f"{limits.source}; {GRADE_SCALE_SOURCE}",
        ),
    )


def outcomes(
    plan: Sequence[PlannedTask], scores: Sequence[TaskScore], floor: float
) -> tuple[TaskOutcome, ...]:
    """What became of each planned task, in protocol order."""
    out = []
    for task in plan:
        mine = [s for s in scores if s.window.name == task.name]
        done = [s for s in mine if s.scored]
        if done:
            data = min(min(s.completeness.values()) for s in done)
            status = Status.DONE.value
        else:
            data = None
            status = mine[-1].window.status.value if mine else "not run"
        attempts = sum(s.window.end > s.window.start for s in mine)  # a skip before it began
        below = data is not None and data < floor
        out.append(TaskOutcome(task, status, attempts, data, below))
    return tuple(out)


def decide(
    plan: Sequence[PlannedTask],
    limits: Limits,
    scores: Sequence[TaskScore],
    events: Sequence[MovementEvent],
) -> Verdict:
    """The verdict of an assessment: per hand one State, with its numbers and reasons."""
    tasks = outcomes(plan, scores, limits.data_floor)
    windows = [s.window for s in scores]
    hands = {side: _hand(side, tasks, windows, events, limits) for side in Side}
    return Verdict(hands, tasks, limits)


def _hand(
    side: Side,
    tasks: Sequence[TaskOutcome],
    windows: Sequence[Window],
    events: Sequence[MovementEvent],
    limits: Limits,
) -> HandVerdict:
    hand = Hand(side.value)
    own = [t for t in tasks if t.task.active is hand]
    s = stats(
        [
            e
            for w in windows
            if w.status is Status.DONE and w.active is hand
            for e in in_window(events, w)
            if e.active is side
        ]
    )
    found = checks(s, limits)
    done = sum(t.done for t in own)

    def verdict(state: State, reasons: list[str]) -> HandVerdict:
        return HandVerdict(side, state, s, found, tuple(reasons), done, len(own))

    word = HAND_WORD[side]
    if not own:
        return verdict(State.NOT_ASSESSED, [f"the protocol has no {word}-hand task"])
    # a required task of both hands or none (rest, a bimanual task) counts for both
    concerned = [
        t for t in tasks if t.task.required and t.task.active in (hand, Hand.BOTH, Hand.NONE)
    ]
    problems = [p for t in concerned if (p := t.problem) is not None]
    if problems:
        return verdict(State.INCOMPLETE, problems)
    if done == 0:
        return verdict(State.NOT_ASSESSED, [f"no {word}-hand task was done"])
    if s.mirror_share is None:
        return verdict(State.INCOMPLETE, [f"no decidable {word}-hand movement detected"])
    state = State.OUTSIDE if any(c.exceeded for c in found) else State.WITHIN
    return verdict(state, [])


def _fmt(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)
