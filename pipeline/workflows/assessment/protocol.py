"""Assessment protocols: TOML files listing tasks, read and validated into dataclasses.

A protocol is data, so an examiner can write their own. Shipped protocols live in
`pipeline/workflows/assessment/protocols/<name>.toml`; `load_protocol` takes such a name or a
path. Anything wrong in a file stops with one ConfigError naming the file and the key.
Top-level `description` is free text for the reader of the file, not used here.
Every limit is range-checked, and an unknown key that is close to a known one is
answered with the known one (`perod` -> did you mean `period`?).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.engine.config import ConfigError
from sensors.config_table import Table, TableError
from sensors.scenarios import MOTIONS
from sensors.types import Side

MIN_PERIOD = 1.5  # s: a cued movement (up to ~1.4 s of tapping) must end before the next beat


class Hand(StrEnum):
    """The hand a task asks to move."""

    L = "L"
    R = "R"
    BOTH = "both"
    NONE = "none"

    @property
    def side(self) -> Side | None:
        """The one active side, None for both hands or rest."""
        return Side(self.value) if self in (Hand.L, Hand.R) else None


@dataclass(frozen=True, slots=True)
class ProtocolTask:
    """One task. `duration` s it lasts; `period` s between metronome beats (None: no cue).

    `repetitions` cued movements (0 for a timed task such as a rest baseline);
    `rest` s of rest after the task; `motion` the movement family (sensors.scenarios
    MOTIONS) a simulated subject performs, None for rest. A `required` task not done
    (or done with too little data) makes the verdict of its hand incomplete; one of
    both hands or none, the verdicts of both.
    """

    name: str
    instruction: str
    active: Hand
    repetitions: int
    duration: float
    period: float | None
    rest: float
    motion: str | None
    required: bool = True


DEFAULT_LIMIT_SOURCE = "the protocol author's own choice, not a published norm"
GRADE_SCALE_SOURCE = (
    "grades 0-4: MirrorWatch's instrumented analogue of the Woods & Teuber (1978) scale"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Reference limits per hand, over its unimanual tasks, beyond which a result is flagged.

    `mirror_share` (0-1) of movements with mirror activity; `median_ratio` (> 0) of
    mirror events; `worst_grade` (0-4) the highest grade tolerated. `data_floor` (0-1)
    the least share of expected samples, per wrist, in a required task; below it the
    hand's verdict is incomplete. `source` where the numbers come from, printed with them.
    """

    mirror_share: float = 0.3
    median_ratio: float = 0.15
    worst_grade: int = 2
    data_floor: float = 0.9
    source: str = DEFAULT_LIMIT_SOURCE


@dataclass(frozen=True, slots=True)
class Protocol:
    """A named list of tasks; `countdown` s announced before each task starts."""

    name: str
    title: str
    countdown: float
    tasks: tuple[ProtocolTask, ...]
    limits: Limits
    origin: str  # "builtin" or the file it was read from


def builtin_protocols() -> list[str]:
    """Names of the protocols shipped with MirrorWatch."""
    files = resources.files("pipeline.workflows.assessment").joinpath("protocols").iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def load_protocol(ref: str) -> Protocol:
    """A shipped protocol by name, or a protocol file by path; ConfigError when invalid."""
    if ref in builtin_protocols():
        text = resources.files("pipeline.workflows.assessment").joinpath(f"protocols/{ref}.toml")
        return parse_protocol(text.read_text(encoding="utf-8"), f"protocol {ref}", "builtin")
    path = Path(ref)
    if not path.is_file():
        names = ", ".join(builtin_protocols())
        raise ConfigError(f"protocol {ref!r}: no such file, and not one of: {names}")
    try:
        text_ = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    return parse_protocol(text_, str(path), str(path))


def parse_protocol(text: str, where: str, origin: str) -> Protocol:
    """Parse protocol TOML; `where` names the source in error messages."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: {e}") from None
    try:
        return _protocol(table, where, origin)
    except TableError as e:
        raise ConfigError(str(e)) from None


def _protocol(table: dict[str, Any], where: str, origin: str) -> Protocol:
    r = Table(table, where, _TOP_KEYS, sep=": ")
    name = r.string("name")
    title = r.string("title", name)
    countdown = r.number("countdown", 3.0, low=0.0)
    default_rest = r.number("rest", 8.0, low=0.0)
    limits = _limits(r.table("limits"), f"{where}: limits")
    raw_tasks = table.get("task")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise r.error("task", "need at least one [[task]] table")
    r.done()
    tasks = tuple(_task(t, f"{where}: task[{i}]", default_rest) for i, t in enumerate(raw_tasks, 1))
    seen: set[str] = set()
    for i, t in enumerate(tasks, 1):
        if t.name in seen:
            raise TableError(f"{where}: task[{i}].name: {t.name!r} used twice")
        seen.add(t.name)
    return Protocol(name, title, countdown, tasks, limits, origin)


_TOP_KEYS = {"name", "title", "countdown", "rest", "limits", "task", "description"}


def _task(raw: Any, where: str, default_rest: float) -> ProtocolTask:
    if not isinstance(raw, dict):
        raise TableError(f"{where}: must be a table")
    r = Table(raw, where, _TASK_KEYS)
    name = r.string("name")
    instruction = r.string("instruction")
    active_text = r.string("active")
    try:
        active = Hand(active_text)
    except ValueError:
        raise r.error("active", f"expected L, R, both or none, got {active_text!r}") from None
    rest = r.number("rest", default_rest, low=0.0)
    required = r.boolean("required", True)
    if active is Hand.NONE:
        duration = r.number("duration", None, low=1.0)
        r.done({"name", "instruction", "active", "duration", "rest", "required"})
        return ProtocolTask(name, instruction, active, 0, duration, None, rest, None, required)
    motion = r.choice("motion", MOTIONS)
    period = r.number("period", None, low=MIN_PERIOD)
    if ("repetitions" in raw) == ("duration" in raw):
        raise r.error("repetitions", "give either repetitions or duration")
    if "repetitions" in raw:
        reps = r.integer("repetitions", low=1)
    else:
        reps = int(r.number("duration", None, low=period) // period)
    r.done()
    return ProtocolTask(
        name, instruction, active, reps, reps * period, period, rest, motion, required
    )


_TASK_KEYS = {
    "name",
    "instruction",
    "active",
    "motion",
    "period",
    "repetitions",
    "duration",
    "rest",
    "required",
}


def _limits(raw: dict[str, Any], where: str) -> Limits:
    r = Table(raw, where, _LIMIT_KEYS)
    d = Limits()
    limits = Limits(
        mirror_share=r.share("mirror_share", d.mirror_share),
        median_ratio=r.number("median_ratio", d.median_ratio, low=0.0, strict=True),
        worst_grade=r.integer("worst_grade", low=0, high=4, default=d.worst_grade),
        data_floor=r.share("data_floor", d.data_floor),
        source=r.string("source", d.source),
    )
    r.done()
    return limits


_LIMIT_KEYS = {"mirror_share", "median_ratio", "worst_grade", "data_floor", "source"}
