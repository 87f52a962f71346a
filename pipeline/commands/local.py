"""Verbs that need no server and no sensor: demo, analyze, record, events."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.commands import UsageError, speed
from pipeline.commands.ble import record_ble
from pipeline.commands.delivery import continuous_delivery
from pipeline.commands.live import Progress
from pipeline.commands.lsl import add_lsl_option, both, finish, publisher
from pipeline.commands.outfile import OutFile
from pipeline.commands.sources import recording_origin, simulated_origin, start_metadata
from pipeline.commands.wrist_files import read_wrist_pair
from pipeline.engine import Engine
from pipeline.engine.events import Event, MovementEvent
from pipeline.report.summary import format_table, summarize
from pipeline.session import run_session, run_until_signalled
from pipeline.settings import Settings
from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool, StoredEvent
from pipeline.workflows.assessment.verdict import Verdict
from pipeline.workflows.assessment.verdict_store import stored_verdict
from sensors.files import is_wrist_file
from sensors.recording import Recording, RecordingWriter, iter_blocks, read_recording
from sensors.simulated import SCENARIOS, SimConfig, SimulatedSource, Simulation, simulate
from sensors.types import Side


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's verbs to the CLI."""
    p = verbs.add_parser("demo", help="simulated wrists through the engine into the spool")
    simulation_args(p)
    p.add_argument("--subject", default="demo", help="pseudonym (default: demo)")
    p.add_argument("--store-samples", action="store_true", help="keep raw samples too")
    add_lsl_option(p)
    p.set_defaults(handler=demo)

    p = verbs.add_parser("analyze", help="run a recording (CSV v1, or XDF) through the engine")
    p.add_argument("file", type=Path, help="a recording, or the left wrist's device file")
    p.add_argument(
        "right", type=Path, nargs="?", help="the right wrist's device file (.cwa, .gt3x, .txt)"
    )
    p.add_argument(
        "--sync",
        choices=["timestamps", "claps"],
        default="timestamps",
        help="two device files: put them on one clock by their timestamps (default), then"
        " refine by three claps of both hands",
    )
    p.add_argument("--json", action="store_true", help="JSON lines on stdout, nothing else")
    p.add_argument("--subject", help="pseudonym (default: the file's metadata or 'anon')")
    p.add_argument("--no-store", action="store_true", help="do not keep events in the spool")
    p.add_argument(
        "--streams",
        metavar="NAME_L,NAME_R",
        help="an .xdf file's wrist streams (default: the two it names L and R)",
    )
    p.set_defaults(handler=analyze)

    p = verbs.add_parser("record", help="write a recording (CSV v1, .csv or .csv.gz)")
    p.add_argument("--source", choices=["simulated", "ble"], default="simulated")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    simulation_args(p)
    p.add_argument("--subject", default="sim", help="pseudonym written as metadata")
    p.set_defaults(handler=record)

    p = verbs.add_parser(
        "events", help="list stored movement events, then the verdicts of assessments"
    )
    p.add_argument("--session", help="session id, unique prefix or 'latest' (default: all)")
    p.add_argument(
        "--format",
        choices=["table", "json", "csv"],
        default="table",
        help="json: a 'verdict' line per hand of an assessment follows its events;"
        " csv: movement events only",
    )
    p.set_defaults(handler=events)


def simulation_args(p: argparse.ArgumentParser) -> None:
    """Options choosing and shaping a simulated session."""
    p.add_argument("--scenario", choices=SCENARIOS, default="firearm-drill")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, help="s (default: the scenario's)")
    p.add_argument("--fs", type=float, default=100.0, help="Hz (default: 100)")
    p.add_argument("--no-gyro", action="store_true", help="accelerometer-only wrists")
    p.add_argument("--loss", type=float, default=0.0, help="packet loss probability")
    p.add_argument(
        "--speed",
        type=speed,
        default=None,
        help="multiple of real time, or 'max' (default: max)",
    )


def demo(args: argparse.Namespace) -> int:
    """A simulated session through the real engine into the spool, then a summary."""
    settings: Settings = args.settings
    sim = simulation(args)
    engine = Engine(dataclasses.replace(settings.engine, fs=sim.config.fs))
    progress = Progress(sim.duration)
    with Spool.in_dir(settings.data_dir, max_bytes=settings.spool_max_bytes) as spool:
        info = spool.start_session(
            subject=args.subject,
            source=f"simulated:{sim.scenario}",
            mode="demo",
            started_at=time.time(),
            meta={
                **_origin_meta(simulated_origin(sim.duration, args.speed, time.time())),
                "scenario": sim.scenario,
                "seed": str(args.seed),
                "fs": str(sim.config.fs),
            },
        )
        pub = publisher(args, settings, info.id, sim.config.fs, f"simulated:{sim.scenario}")
        result = run_until_signalled(
            lambda stop: run_session(
                SimulatedSource(sim, args.speed),
                engine,
                spool,
                info.id,
                store_samples=args.store_samples,
                on_event=both(progress.event, pub, "event"),
                on_block=both(progress.block, pub, "block"),
                stop=stop,
                background=continuous_delivery(settings),
                wait_for_store=args.speed is None,
            )
        )
    progress.close()
    finish(pub)
    truth_mirror = sum(1 for m in sim.truth if m.kind == "mirror")
    print(f"session {info.id}  ({sim.scenario}, {result.covered:.0f} s of two wrists)")
    print(f"stored in {spool.path}")
    print()
    print(format_table(summarize(result.events)))
    print()
    print(
        f"simulator truth: {len(sim.truth)} voluntary movements, {truth_mirror} with mirror "
        f"activity; detected {len(result.events)} movements"
    )
    if result.stopped:
        print("stopped before the end of the scenario", file=sys.stderr)
    return 0


def analyze(args: argparse.Namespace) -> int:
    """A recording through the engine; JSON lines or a summary table on stdout."""
    settings: Settings = args.settings
    rec = _read(args)
    if rec.skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(rec.skip_reasons.items()))
        lines = ", ".join(str(n) for n in rec.first_skipped_lines)
        print(
            f"mirrorwatch: {args.file}: skipped {rec.skipped} of {rec.rows} rows ({reasons});"
            f" first at line(s) {lines}",
            file=sys.stderr,
        )
    if rec.clock_jumps:
        lines = ", ".join(str(n) for n in rec.clock_jump_lines)
        print(
            f"mirrorwatch: {args.file}: clock set back {rec.clock_jumps} time(s), undone;"
            f" first at line(s) {lines}",
            file=sys.stderr,
        )
    fs = rec.fs or settings.engine.fs
    engine = Engine(dataclasses.replace(settings.engine, fs=float(round(fs))))
    spool = (
        None
        if args.no_store
        else Spool.in_dir(settings.data_dir, max_bytes=settings.spool_max_bytes)
    )
    session_id = None
    if spool is not None:
        subject = args.subject or rec.metadata.get("subject") or "anon"
        info = spool.start_session(
            subject=subject,
            source=f"replay:{args.file.name}",
            mode="analyze",
            started_at=time.time(),
            meta={
                **_origin_meta(recording_origin(rec, args.file)),
                "file": str(args.file),
                "fs": str(fs),
            },
        )
        session_id = info.id
    decided: list[MovementEvent] = []

    def emit(events: Iterable[Event]) -> None:
        batch = [e for e in events if isinstance(e, MovementEvent)]
        if spool is not None and session_id is not None and batch:
            spool.add_events(session_id, batch)
        for e in batch:
            decided.append(e)
            if args.json:
                print(e.to_json(), flush=True)

    try:
        for block in iter_blocks(rec):
            emit(engine.feed(block))
        emit(engine.flush())
    finally:
        if spool is not None and session_id is not None:
            spool.end_session(session_id, time.time())
            spool.close()
    if not args.json:
        if session_id is not None:
            print(f"session {session_id}")
        print(format_table(summarize(decided)))
    return 0


def _read(args: argparse.Namespace) -> Recording:
    """`analyze`'s file: an XDF (two wrist streams, sensors/xdf.py) or CSV v1, or a
    pair of device files (pipeline/commands/wrist_files.py)."""
    if args.right is not None or is_wrist_file(args.file):
        return read_wrist_pair(args.file, args.right, args.sync == "claps")
    if args.file.suffix.lower() != ".xdf":
        if args.streams:
            raise UsageError("--streams is for .xdf files")
        return read_recording(args.file)
    names = None
    if args.streams:
        parts = [n.strip() for n in args.streams.split(",")]
        if len(parts) != 2 or not all(parts):
            raise UsageError(f"--streams {args.streams!r}: expected NAME_L,NAME_R")
        names = (parts[0], parts[1])
    from sensors.xdf import read_xdf  # pyxdf is loaded only for an XDF file

    return read_xdf(args.file, names)


def record(args: argparse.Namespace) -> int:
    """A simulated session (or, with --source ble, the paired wrists) as a recording file."""
    if args.source == "ble":
        return record_ble(args)
    sim = simulation(args)
    metadata = {
        "subject": args.subject,
        "device": f"simulated:{sim.scenario}",
        "fs": f"{sim.config.fs:g}",
        "note": f"seed {args.seed}",
        "start": start_metadata(
            simulated_origin(sim.duration, args.speed, time.time()) or time.time()
        ),
    }
    progress = Progress(sim.duration)
    with OutFile(args.out, args.force) as out:
        with RecordingWriter(out.tmp, metadata) as writer:

            async def write_all(stop: Any) -> None:
                async for block in SimulatedSource(sim, args.speed).blocks():
                    if stop.is_set():
                        break
                    writer.write(block)
                    progress.block(block)

            run_until_signalled(write_all)
        progress.close()
        out.commit(writer.rows)
    print(f"wrote {writer.rows} rows to {args.out}")
    return 0


def _origin_meta(origin: float | None) -> dict[str, str]:
    return {} if origin is None else {"clock_origin": repr(origin)}


def events(args: argparse.Namespace) -> int:
    """Stored movement events as a table, JSON lines or CSV on stdout."""
    settings: Settings = args.settings
    with Spool.for_reading(settings.data_dir) as spool:
        session_id = spool.session(args.session).id if args.session else None
        stored = spool.events(session_id)
        verdicts = _verdicts(spool, session_id)
    if args.format == "json":
        for s in stored:
            print(json.dumps({**s.event.to_json_dict(), "session": s.session_id}))
        for sid, v in verdicts.items():
            for side in Side:
                doc = {"type": "verdict", **v.hands[side].to_json_dict()}
                print(json.dumps({**doc, "complete": v.complete, "session": sid}))
    elif args.format == "csv":
        _write_csv(stored)
    else:
        _print_table(stored)
        for sid, v in verdicts.items():
            print(f"\nverdict of assessment {sid}" + ("" if v.complete else " (INCOMPLETE)"))
            for side in Side:
                print(v.hands[side].line())
    return 0


def _verdicts(spool: Spool, session_id: str | None) -> dict[str, Verdict]:
    """The stored verdicts of the assessments among the sessions listed, in session order."""
    agg = Aggregates(spool)
    out = {}
    for info in spool.sessions():
        if info.mode == "assess" and session_id in (None, info.id):
            v = stored_verdict(agg, info.id)
            if v is not None:
                out[info.id] = v
    return out


def simulation(args: argparse.Namespace) -> Simulation:
    """The Simulation that `simulation_args` options describe."""
    try:
        config = SimConfig(
            fs=args.fs,
            duration=args.duration,
            gyro=not args.no_gyro,
            loss_rate=args.loss,
            seed=args.seed,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    return simulate(args.scenario, config)


def _write_csv(stored: list[StoredEvent]) -> None:
    """The JSON line's fields, flat: `completeness` becomes one column per side."""
    rows = [_flat(s) for s in stored]
    if not rows:
        return
    out = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
    out.writeheader()
    out.writerows(rows)


def _flat(s: StoredEvent) -> dict[str, Any]:
    d = s.event.to_json_dict()
    del d["type"]
    completeness = d.pop("completeness")
    return {"session": s.session_id, **d} | {
        f"completeness_{k}": v for k, v in completeness.items()
    }


def _print_table(stored: list[StoredEvent]) -> None:
    if not stored:
        print("no events stored")
        return
    print(
        f"{'session':<22}{'onset s':>9}{'act':>4} {'kind':<14}{'ratio':>6}{'lag ms':>7}{'grade':>6}"
    )
    for s in stored:
        e = s.event
        lag = "-" if e.lag_ms is None else f"{e.lag_ms:.0f}"
        print(
            f"{s.session_id:<22}{e.t_onset:>9.2f}{e.active.value:>4} {e.kind.value:<14}"
            f"{e.mirror_ratio:>6.2f}{lag:>7}{e.grade:>6}"
        )
