"""Where a workflow's wrist data comes from: simulated, a recording, or a registered live source.

`--source` takes `simulated`, a path to a recording (CSV v1), or the name of a live
source registered in LIVE_SOURCES (e.g. `ble`, by the module that implements it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.commands import UsageError
from sensors.recording import ReplaySource, read_recording
from sensors.simulated import SimulatedSource, Simulation
from sensors.source import Source
from sensors.types import Side


@dataclass(frozen=True, slots=True)
class Opened:
    """A source ready to run.

    `label` goes into the session's `source` column; `fs` Hz the engine grid;
    `duration` s of data when known; `simulation` set for a simulated subject
    (whose ground truth the caller may keep); `live` when the wrists are real,
    so the examiner's pause/repeat/skip reach the subject; `link`, for sources that
    know it, describes a wrist's link for a status line (state, battery).
    """

    source: Source
    label: str
    fs: float
    duration: float | None
    simulation: Simulation | None
    live: bool
    link: Callable[[Side], str | None] | None = None


LiveFactory = Callable[[float | None], Opened]
LIVE_SOURCES: dict[str, LiveFactory] = {}
"""Live sources by --source name; a module providing one registers its factory here."""


def open_source(spec: str, speed: float | None, simulate: Callable[[], Simulation]) -> Opened:
    """The source `spec` names; `simulate` builds the simulated subject when asked for."""
    if spec == "simulated":
        sim = simulate()
        return Opened(
            SimulatedSource(sim, speed),
            f"simulated:{sim.scenario}",
            sim.config.fs,
            sim.duration,
            sim,
            live=False,
        )
    if spec in LIVE_SOURCES:
        return LIVE_SOURCES[spec](speed)
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(["simulated", *LIVE_SOURCES, "a recording file"])
        raise UsageError(f"--source {spec!r}: no such file; expected one of: {names}")
    rec = read_recording(path)
    ends = [float(b.t[-1]) for b in rec.sides.values() if len(b)]
    fs = float(round(rec.fs)) if rec.fs else 100.0
    return Opened(
        ReplaySource(rec, speed),
        f"replay:{path.name}",
        fs,
        max(ends, default=None),
        None,
        live=False,
    )
