"""Assessment protocols: TOML files listing tasks, read and validated into dataclasses.

A protocol is data, so an examiner can write their own. Shipped protocols live in
`pipeline/workflows/assessment/protocols/<name>.toml`; `load_protocol` takes such a name or a
path. Anything wrong in a file stops with one ConfigError naming the file and the key.
Top-level `description` is free text for the reader of the file, not used here.
Every limit is range-checked, and an unknown key that is close to a known one is
answered with the known one (`perod` -> did you mean `period`?).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.engine.config import ConfigError
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
    r = _Reader(table, where, known=_TOP_KEYS)
    name = r.string("name")
    title = r.string("title", name)
    countdown = r.number("countdown", 3.0, low=0.0)
    default_rest = r.number("rest", 8.0, low=0.0)
    limits = _limits(r.table("limits"), f"{where}: limits")
    raw_tasks = table.get("task")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise ConfigError(f"{where}: task: need at least one [[task]] table")
    r.done(_TOP_KEYS)
    tasks = tuple(_task(t, f"{where}: task[{i}]", default_rest) for i, t in enumerate(raw_tasks, 1))
    seen: set[str] = set()
    for i, t in enumerate(tasks, 1):
        if t.name in seen:
            raise ConfigError(f"{where}: task[{i}].name: {t.name!r} used twice")
        seen.add(t.name)
    return Protocol(name, title, countdown, tasks, limits, origin)


_TOP_KEYS = {"name", "title", "countdown", "rest", "limits", "task", "description"}


def _task(raw: Any, where: str, default_rest: float) -> ProtocolTask:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    r = _Reader(raw, where, dot=".", known=_TASK_KEYS)
    name = r.string("name")
    instruction = r.string("instruction")
    active_text = r.string("active")
    try:
        active = Hand(active_text)
    except ValueError:
        raise ConfigError(
            f"{where}.active: expected L, R, both or none, got {active_text!r}"
        ) from None
    rest = r.number("rest", default_rest, low=0.0)
    required = r.boolean("required", True)
    if active is Hand.NONE:
        duration = r.number("duration", None, low=1.0)
        r.done({"name", "instruction", "active", "duration", "rest", "required"})
        return ProtocolTask(name, instruction, active, 0, duration, None, rest, None, required)
    motion = r.string("motion")
    if motion not in MOTIONS:
        raise ConfigError(f"{where}.motion: expected one of {', '.join(MOTIONS)}, got {motion!r}")
    period = r.number("period", None, low=MIN_PERIOD)
    if ("repetitions" in raw) == ("duration" in raw):
        raise ConfigError(f"{where}.repetitions: give either repetitions or duration")
    if "repetitions" in raw:
        reps = r.integer("repetitions", low=1)
    else:
        reps = int(r.number("duration", None, low=period) // period)
    r.done(_TASK_KEYS)
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
    r = _Reader(raw, where, dot=".")
    d = Limits()
    limits = Limits(
        mirror_share=r.share("mirror_share", d.mirror_share),
        median_ratio=r.number("median_ratio", d.median_ratio, low=0.0, strict=True),
        worst_grade=r.integer("worst_grade", low=0, high=4, default=d.worst_grade),
        data_floor=r.share("data_floor", d.data_floor),
        source=r.string("source", d.source),
    )
    r.done({"mirror_share", "median_ratio", "worst_grade", "data_floor", "source"})
    return limits


class _Reader:
    """Typed access to one TOML table; errors name `where` and the key."""

    def __init__(
        self, table: dict[str, Any], where: str, dot: str = ": ", known: set[str] | None = None
    ) -> None:
        self._t = table
        self._where = where
        self._dot = dot
        self._known = known or set()  # every key this table may have: typos are the others

    def _missing(self, key: str) -> ConfigError:
        """A missing key, or, when it is a typo of this key, the typo named."""
        typos = [k for k in self._t if k not in self._known]
        if difflib.get_close_matches(key, typos, n=1, cutoff=0.6):
            typo = difflib.get_close_matches(key, typos, n=1, cutoff=0.6)[0]
            return ConfigError(f"{self._key(typo)}: unknown key; did you mean `{key}`?")
        return ConfigError(f"{self._key(key)}: missing")

    def _key(self, key: str) -> str:
        return f"{self._where}{self._dot}{key}"

    def string(self, key: str, default: str | None = None) -> str:
        v = self._t.get(key, default)
        if v is None:
            raise self._missing(key)
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{self._key(key)}: expected a non-empty string, got {v!r}")
        return v.strip()

    def number(self, key: str, default: float | None, *, low: float, strict: bool = False) -> float:
        """A finite number >= `low` (> `low` when `strict`)."""
        v = self._t.get(key, default)
        if v is None:
            raise self._missing(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"{self._key(key)}: expected a number, got {v!r}")
        if strict and not v > low:
            raise ConfigError(f"{self._key(key)}: must be > {low:g}, got {v!r}")
        if not v >= low:
            raise ConfigError(f"{self._key(key)}: must be >= {low:g}, got {v!r}")
        return float(v)

    def share(self, key: str, default: float) -> float:
        """A share in [0, 1]: 0.3, not 30, for 30 %."""
        v = self.number(key, default, low=0.0)
        if v > 1.0:
            raise ConfigError(
                f"{self._key(key)}: a share must be in [0, 1] (0.3 for 30%), got {v:g}"
            )
        return v

    def boolean(self, key: str, default: bool) -> bool:
        v = self._t.get(key, default)
        if not isinstance(v, bool):
            raise ConfigError(f"{self._key(key)}: expected true or false, got {v!r}")
        return v

    def integer(
        self, key: str, *, low: int, high: int | None = None, default: int | None = None
    ) -> int:
        v = self._t.get(key, default)
        if v is None:
            raise self._missing(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{self._key(key)}: expected a whole number, got {v!r}")
        if v < low or (high is not None and v > high):
            span = f">= {low}" if high is None else f"{low}-{high}"
            raise ConfigError(f"{self._key(key)}: must be {span}, got {v!r}")
        return v

    def table(self, key: str) -> dict[str, Any]:
        v = self._t.get(key, {})
        if not isinstance(v, dict):
            raise ConfigError(f"{self._key(key)}: must be a table")
        return v

    def done(self, known: set[str]) -> None:
        unknown = sorted(set(self._t) - known)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ConfigError(f"{self._key(unknown[0])}: unknown key{hint}")
