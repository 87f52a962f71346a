"""Where a workflow's wrist data comes from: simulated, a recording, or a registered live source.

`--source` takes `simulated`, a path to a recording (CSV v1), or the name of a live
source registered in LIVE_SOURCES (e.g. `ble`, by the module that implements it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.commands import UsageError
from pipeline.settings import Settings
from sensors.recording import ReplaySource, read_recording
from sensors.simulated import SimulatedSource, Simulation
from sensors.source import Source
from sensors.types import Side


@dataclass(frozen=True, slots=True)
class Opened:
    """A source ready to run.

    `label` goes into the session's `source` column; `fs` Hz the engine grid; `live`
    when the wrists are real, so the examiner's pause/repeat/skip reach the subject;
    `link`, for sources that know it, describes a wrist's link for a status line
    (state, battery).
    """

    source: Source
    label: str
    fs: float
    live: bool
    link: Callable[[Side], str | None] | None = None


LiveFactory = Callable[[Settings], Opened]
LIVE_SOURCES: dict[str, LiveFactory] = {}
"""Live sources by --source name, built from the settings (paired sensors...); a module
providing one registers its factory here. They run in real time: --speed is ignored."""


def open_source(
    spec: str, speed: float | None, simulate: Callable[[], Simulation], settings: Settings
) -> Opened:
    """The source `spec` names; `simulate` builds the simulated subject when asked for."""
    if spec == "simulated":
        sim = simulate()
        return Opened(
            SimulatedSource(sim, speed),
            f"simulated:{sim.scenario}",
            sim.config.fs,
            live=False,
        )
    if spec in LIVE_SOURCES:
        return LIVE_SOURCES[spec](settings)
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(["simulated", *LIVE_SOURCES, "a recording file"])
        raise UsageError(f"--source {spec!r}: no such file; expected one of: {names}")
    rec = read_recording(path)
    fs = float(round(rec.fs)) if rec.fs else 100.0
    return Opened(
        ReplaySource(rec, speed),
        f"replay:{path.name}",
        fs,
        live=False,
    )
