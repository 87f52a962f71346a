"""What the engine emits (DESIGN.md §3 and §4)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sensors.types import Side


class Kind(StrEnum):
    """How the other hand behaved during a voluntary movement."""

    UNIMANUAL = "unimanual"
    MIRROR = "mirror"
    BIMANUAL = "bimanual"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True, slots=True)
class Onset:
    """A voluntary movement start, emitted as soon as the detector commits to it.

    `t` is backdated to where the movement began; `detected_at` is the session
    time of the sample that made the detector commit.
    """

    side: Side
    t: float
    detected_at: float


@dataclass(frozen=True, slots=True)
class MovementEvent:
    """One voluntary movement and what the other hand did meanwhile (DESIGN.md §4).

    Times are session seconds. `mirror_ratio` is contralateral / active activity
    above each side's rest level; `lag_ms` is contralateral minus active onset.
    """

    t_onset: float
    t_offset: float | None
    active: Side
    kind: Kind
    mirror_ratio: float
    lag_ms: float | None
    coupling: float
    grade: int
    peak_active: float
    peak_contra: float
    completeness: dict[Side, float]
    detected_at: float
    decided_at: float
    task: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON line object of DESIGN.md §4, key order included."""
        return {
            "type": "movement",
            "t_onset": _r(self.t_onset, 3),
            "t_offset": None if self.t_offset is None else _r(self.t_offset, 3),
            "active": self.active.value,
            "kind": self.kind.value,
            "mirror_ratio": _r(self.mirror_ratio, 3),
            "lag_ms": None if self.lag_ms is None else _r(self.lag_ms, 1),
            "coupling": _r(self.coupling, 3),
            "grade": self.grade,
            "peak_active": _r(self.peak_active, 4),
            "peak_contra": _r(self.peak_contra, 4),
            "completeness": {s.value: _r(self.completeness[s], 3) for s in (Side.L, Side.R)},
            "detected_at": _r(self.detected_at, 3),
            "decided_at": _r(self.decided_at, 3),
            "task": self.task,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> MovementEvent:
        """Inverse of `to_json_dict`; raises KeyError/ValueError on a malformed object."""
        if d.get("type") != "movement":
            raise ValueError(f"not a movement event: type={d.get('type')!r}")
        return cls(
            t_onset=float(d["t_onset"]),
            t_offset=None if d["t_offset"] is None else float(d["t_offset"]),
            active=Side(d["active"]),
            kind=Kind(d["kind"]),
            mirror_ratio=float(d["mirror_ratio"]),
            lag_ms=None if d["lag_ms"] is None else float(d["lag_ms"]),
            coupling=float(d["coupling"]),
            grade=int(d["grade"]),
            peak_active=float(d["peak_active"]),
            peak_contra=float(d["peak_contra"]),
            completeness={Side(k): float(v) for k, v in d["completeness"].items()},
            detected_at=float(d["detected_at"]),
            decided_at=float(d["decided_at"]),
            task=d.get("task"),
        )


Event = Onset | MovementEvent


def _r(x: float, digits: int) -> float:
    # JSON has no NaN; a non-finite number here is an engine bug, so fail loudly.
    if not math.isfinite(x):
        raise ValueError(f"non-finite value in event: {x}")
    return round(float(x), digits)
