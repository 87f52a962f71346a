"""`mirrorwatch assess`: guide an examiner through a protocol and score it per task."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from pipeline.commands import speed
from pipeline.commands.delivery import continuous_delivery, deliver_now, delivery_line
from pipeline.commands.lsl import add_lsl_option, both, finish, publisher
from pipeline.commands.sources import open_source, store_links
from pipeline.engine import Engine
from pipeline.engine.events import Event, Kind, MovementEvent
from pipeline.session import run_session, run_until_signalled
from pipeline.settings import Settings
from pipeline.store.aggregates import Aggregates
from pipeline.store.outbox import DeliveryStatus
from pipeline.store.spool import Spool
from pipeline.store.write_queue import WriteQueue
from pipeline.workflows.assessment.guide import Guide, Phase, Say, SetTask, Step
from pipeline.workflows.assessment.protocol import Protocol, builtin_protocols, load_protocol
from pipeline.workflows.assessment.results import load_assessment, save_plan, save_timeline
from pipeline.workflows.assessment.text import format_assessment
from pipeline.workflows.assessment.timeline import nominal_schedule, scripted, session_length
from pipeline.workflows.assessment.verdict_store import store_verdict
from sensors.scenarios import plan_protocol
from sensors.simulated import SimConfig, Simulation
from sensors.types import ImuBlock, Side

_KEYS = "p pause/resume, r repeat task, s skip task"
FINISH_GRACE_S = 2.0
"""Live wrists stream on after the last task: the session stops this long (s of
session time) after it, once movements near its end have been decided."""


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `assess` verb."""
    p = verbs.add_parser("assess", help="guided task protocol, scored per task and hand")
    p.add_argument(
        "--protocol",
        required=True,
        help=f"a shipped protocol ({', '.join(builtin_protocols())}) or a protocol file",
    )
    p.add_argument("--subject", required=True, help="pseudonym")
    p.add_argument(
        "--source", default="simulated", help="simulated, a recording file, ble, lsl:NAME_L,NAME_R"
    )
    p.add_argument(
        "--speed", type=speed, default=1.0, help="multiple of real time, or 'max' (default: 1)"
    )
    p.add_argument("--seed", type=int, default=0, help="of the simulated subject")
    p.add_argument("--yes", action="store_true", help="no prompts: run unattended")
    p.add_argument("--out", type=Path, help="report file (default: <data-dir>/reports/ID.html)")
    p.add_argument(
        "--json", action="store_true", help="the verdict as one JSON object on stdout, nothing else"
    )
    add_lsl_option(p)
    p.set_defaults(handler=assess)


def simulate_protocol(
    protocol: Protocol, seed: int, fs: float = 100.0, loss_rate: float = 0.0
) -> Simulation:
    """A simulated subject performing `protocol` as scheduled, with per-task ground truth;
    `loss_rate` the probability a packet of samples is lost."""
    windows = nominal_schedule(protocol)
    duration = session_length(windows)
    plan = plan_protocol(scripted(protocol, windows), duration, seed)
    config = SimConfig(fs, duration, seed=seed, loss_rate=loss_rate)
    return Simulation(f"protocol:{protocol.name}", config, plan)


def assess(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    protocol = load_protocol(args.protocol)
    opened = open_source(
        args.source, args.speed, lambda: simulate_protocol(protocol, args.seed), settings
    )
    engine = Engine(dataclasses.replace(settings.engine, fs=opened.fs))
    interactive = sys.stdin.isatty() and not args.yes
    view = _View(sys.stderr)
    guide = Guide(protocol)
    view.say(f"{protocol.title}: {len(protocol.tasks)} tasks, subject {args.subject}")
    if interactive:
        input(f"Press Enter to start ({_KEYS}; Ctrl-C stops) ")
    clock = {"t": 0.0}
    stopping: dict[str, asyncio.Event] = {}  # the session's stop, once it runs
    finished_at: list[float] = []

    def apply(steps: list[Step]) -> None:
        for step in steps:
            if isinstance(step, SetTask):
                engine.set_task(step.name, step.active, step.start)
                view.task = step.name
                if pub is not None:  # a recorder sees the tasks beside the wrists
                    active = None if step.active is None else step.active.value
                    doc = {"type": "task", "name": step.name, "active": active}
                    pub.marker(doc | {"t": round(step.start, 4)}, step.start)
            else:
                view.say(step.text, step)

    def on_block(block: ImuBlock) -> None:
        if len(block):
            clock["t"] = max(clock["t"], float(block.t[-1]))
            apply(guide.advance(clock["t"]))
        view.draw(clock["t"])
        if guide.phase is Phase.FINISHED and opened.live:
            # a recording or simulation ends by itself; live wrists never do
            if not finished_at:
                finished_at.append(clock["t"])
            if clock["t"] >= finished_at[0] + FINISH_GRACE_S and "stop" in stopping:
                stopping["stop"].set()

    def on_key(key: str) -> None:
        t = clock["t"]
        if key == "p":
            apply(guide.resume(t) if guide.phase.value == "paused" else guide.pause(t))
        elif key == "r":
            apply(guide.repeat(t))
        elif key == "s":
            apply(guide.skip(t))
        if key in "prs" and not opened.live:
            view.say("note: a recorded or simulated subject keeps to the nominal schedule")

    with Spool.in_dir(settings.data_dir, max_bytes=settings.spool_max_bytes) as spool:
        agg = Aggregates(spool)
        info = spool.start_session(
            subject=args.subject,
            source=opened.label,
            mode="assess",
            started_at=time.time(),
            meta={
                **opened.session_meta(),
                "protocol": protocol.name,
                "origin": protocol.origin,
                "seed": str(args.seed),
                "fs": f"{opened.fs:g}",
            },
        )
        save_plan(agg, info.id, protocol)
        writes = WriteQueue(info.id)
        store_links(opened, writes)
        pub = publisher(args, settings, info.id, opened.fs, opened.label, opened.source)

        def on_delivery(d: DeliveryStatus) -> None:
            view.delivery = delivery_line(d, time.time())

        async def main(stop: asyncio.Event) -> None:
            stopping["stop"] = stop
            with _keys(interactive, on_key):
                await run_session(
                    opened.source,
                    engine,
                    spool,
                    info.id,
                    store_samples=True,
                    on_event=both(view.event, pub, "event"),
                    on_block=both(on_block, pub, "block"),
                    stop=stop,
                    background=continuous_delivery(settings, on_delivery),
                    writes=writes,
                    wait_for_store=args.speed is None and not opened.live,
                )

        run_until_signalled(main)
        apply(guide.stop(clock["t"]))
        finish(pub)
        view.close()
        save_timeline(agg, info.id, guide.windows)
        result = load_assessment(spool, agg, spool.session(info.id))
        # decided once, here: the report, `events` and InfluxDB all read this one
        store_verdict(spool, info.id, result.verdict, clock["t"])
        out = args.out or settings.data_dir / "reports" / f"{info.id}.html"
        from pipeline.report.document import write_report  # matplotlib: ~1 s, only to draw

        write_report(spool, agg, result.info, out)
    deliver_now(settings)  # the verdict was stored after the session's delivery ended
    verdict = result.verdict
    if args.json:
        doc = {"session": info.id, "report": str(out), **verdict.to_json_dict()}
        print(json.dumps(doc))
    else:
        print(format_assessment(result))
        print()
        print(f"session {info.id}")
        print(f"report {out}")
    return verdict.exit_code


class _View:
    """Instructions as lines; on a terminal, a live line of counts per hand under them."""

    def __init__(self, stream: TextIO) -> None:
        self._s = stream
        self._tty = stream.isatty()
        self.task: str | None = None
        self._moves = {Side.L: 0, Side.R: 0}
        self._mirrors = {Side.L: 0, Side.R: 0}
        self._drawn = 0.0
        self.delivery = ""  # delivery_line() of the last status, when delivering

    def say(self, text: str, step: Say | None = None) -> None:
        if step is not None and step.cue and not self._tty:
            return  # beats and countdowns only matter to someone watching
        stamp = "" if step is None else f"[{step.t:6.1f} s] "
        self._s.write(("\r\033[K" if self._tty else "") + stamp + text + "\n")
        self._s.flush()

    def event(self, event: Event) -> None:
        if isinstance(event, MovementEvent):
            self._moves[event.active] += 1
            self._mirrors[event.active] += event.kind is Kind.MIRROR

    def draw(self, t: float) -> None:
        now = time.monotonic()
        if not self._tty or now - self._drawn < 0.1:
            return
        self._drawn = now
        hands = "  ".join(
            f"{s.value}: {self._moves[s]} moves {self._mirrors[s]} mirror" for s in Side
        )
        tail = f"  {self.delivery}" if self.delivery else ""
        self._s.write(f"\r\033[Kt={t:6.1f} s  {self.task or 'rest':<14} {hands}{tail}")
        self._s.flush()

    def close(self) -> None:
        if self._tty:
            self._s.write("\r\033[K")
            self._s.flush()


@contextlib.contextmanager
def _keys(enabled: bool, on_key: Callable[[str], None]) -> Iterator[None]:
    """Single keys from the terminal, without Enter, while the session runs."""
    if not enabled:
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    loop = asyncio.get_running_loop()
    tty.setcbreak(fd)
    loop.add_reader(fd, lambda: on_key(sys.stdin.read(1)))
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
