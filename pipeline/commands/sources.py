"""Where a workflow's wrist data comes from: simulated, a recording, or a registered live source.

`--source` takes `simulated`, a path to a recording (CSV v1), the name of a live
source registered in LIVE_SOURCES (e.g. `ble`, by the module that implements it), or
`lsl:NAME_L,NAME_R` (two Lab Streaming Layer streams).
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.commands import UsageError
from pipeline.settings import Settings
from pipeline.store.write_queue import WriteQueue
from sensors.recording import Recording, ReplaySource, read_recording
from sensors.simulated import SimulatedSource, Simulation
from sensors.source import Source
from sensors.types import Side

if TYPE_CHECKING:  # bleak is imported only when the wrists are asked for
    from sensors.ble_link import LinkStatus


@dataclass(frozen=True, slots=True)
class Opened:
    """A source ready to run.

    `label` goes into the session's `source` column; `fs` Hz the engine grid; `live`
    when the wrists are real, so the examiner's pause/repeat/skip reach the subject;
    `link`, for sources that know it, describes a wrist's link for a status line
    (state, battery). `origin` is the unix time of session time 0 on the data's own
    clock when that is not the host's clock at the start (a recording, a simulation
    not run in real time); points sent to InfluxDB are stamped from it. `clock` says
    how the two wrists were put on one clock, when the source measured it (meta keys
    `clock_sync`, `clock_residual_ms`), for the report's data quality.
    """

    source: Source
    label: str
    fs: float
    live: bool
    link: Callable[[Side], str | None] | None = None
    listen: Callable[[Callable[[LinkStatus], None]], None] | None = None
    origin: float | None = None
    clock: tuple[tuple[str, str], ...] = ()

    def session_meta(self) -> dict[str, str]:
        """What a session's meta needs to stamp its points (`clock_origin` if not now)
        and to report how its clocks were aligned."""
        origin = {} if self.origin is None else {"clock_origin": repr(self.origin)}
        return origin | dict(self.clock)


def store_links(opened: Opened, writes: WriteQueue) -> None:
    """Keep every link change of a live source as a `link` record of the session."""
    if opened.listen is None:
        return
    session_id = writes.session_id

    def store(s: LinkStatus) -> None:
        writes.write(
            lambda spool: spool.add_link(
                session_id,
                s.side,
                s.t,
                battery=s.battery,
                rssi=s.rssi,
                lost=s.lost,
                reconnects=s.reconnects,
            )
        )

    opened.listen(store)


LiveFactory = Callable[[Settings], Opened]
LIVE_SOURCES: dict[str, LiveFactory] = {}
"""Live sources by --source name, built from the settings (paired sensors...); a module
providing one registers its factory here. They run in real time: --speed is ignored."""


def _ble(settings: Settings) -> Opened:
    """The paired wrists over BLE (pipeline/commands/ble.py), sampled at `[ble] odr_hz`."""
    # imported here: bleak is loaded only when the wrists are asked for
    from pipeline.commands.ble import ble_source

    source = ble_source(settings)

    def link(side: Side) -> str | None:
        status = source.status.get(side)
        if status is None:
            return None
        battery = "" if status.battery is None else f" {status.battery}%"
        return f"{status.state.value}{battery}"

    label = f"ble:L={settings.ble.left},R={settings.ble.right}"
    odr = float(settings.ble.odr_hz)
    return Opened(source, label, odr, live=True, link=link, listen=source.listen)


LIVE_SOURCES["ble"] = _ble


def _lsl(spec: str, settings: Settings) -> Opened | None:
    """`lsl:NAME_L,NAME_R`, two LSL streams as the wrists (pipeline/commands/lsl.py)."""
    if not spec.startswith("lsl:"):
        return None
    from pipeline.commands.lsl import lsl_source  # liblsl is loaded only when asked for

    return lsl_source(spec.removeprefix("lsl:"), settings)


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
            origin=simulated_origin(sim.duration, speed, time.time()),
        )
    if spec in LIVE_SOURCES:
        return LIVE_SOURCES[spec](settings)
    if (lsl := _lsl(spec, settings)) is not None:
        return lsl
    if (pair := _wrist_pair(spec, speed)) is not None:
        return pair
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(["simulated", *LIVE_SOURCES, "lsl:NAME_L,NAME_R", "a recording file"])
        raise UsageError(f"--source {spec!r}: no such file; expected one of: {names}")
    rec = read_recording(path)
    fs = float(round(rec.fs)) if rec.fs else 100.0
    return Opened(
        ReplaySource(rec, speed),
        f"replay:{path.name}",
        fs,
        live=False,
        origin=recording_origin(rec, path),
    )


def _wrist_pair(spec: str, speed: float | None) -> Opened | None:
    """`LEFT,RIGHT` (or `claps:LEFT,RIGHT`) device files, one per wrist, replayed."""
    from pipeline.commands.wrist_files import pair_spec, read_wrist_files

    parsed = pair_spec(spec)
    if parsed is None:
        return None
    left, right, claps = parsed
    pair = read_wrist_files(left, right, claps)
    rec = pair.recording
    fs = float(round(rec.fs)) if rec.fs else 100.0
    label = f"files:{left.name},{right.name}"
    origin = recording_origin(rec, left)
    fit = pair.clock.claps
    clock: tuple[tuple[str, str], ...] = (("clock_sync", "timestamps"),)
    if fit is not None:  # the clap fit's residual: how well the two clocks agree after it
        clock = (("clock_sync", "claps"), ("clock_residual_ms", f"{fit.residual * 1e3:.2f}"))
    return Opened(ReplaySource(rec, speed), label, fs, live=False, origin=origin, clock=clock)


def simulated_origin(duration: float, speed: float | None, now: float) -> float | None:
    """A simulation in real time starts now (None); faster, its data end now, so no
    point is ever stamped in the future."""
    return None if speed == 1.0 else now - duration


def recording_origin(rec: Recording, path: Path) -> float:
    """Unix time of a recording's t = 0: its `start` metadata (ISO 8601 or unix s, as
    `record` writes it), else the file's modification time less its length (the file
    was last written when the recording ended)."""
    text = rec.metadata.get("start")
    if text:
        with contextlib.suppress(ValueError):
            return float(text)
        with contextlib.suppress(ValueError):
            when = datetime.datetime.fromisoformat(text)
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.UTC)
            return when.timestamp()
    ends = [float(b.t[-1]) for b in rec.sides.values() if len(b)]
    return path.stat().st_mtime - max(ends, default=0.0)


def start_metadata(origin: float) -> str:
    """The `start` metadata of a recording whose t = 0 is `origin` (unix s)."""
    when = datetime.datetime.fromtimestamp(origin, datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
