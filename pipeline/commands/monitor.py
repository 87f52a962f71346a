"""`mirrorwatch monitor`: home monitoring until stopped, hourly aggregates and warnings."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
import time
from typing import TextIO

from pipeline.commands import UsageError, speed
from pipeline.commands.delivery import continuous_delivery, delivery_line
from pipeline.commands.lsl import add_lsl_option, both, finish, publisher
from pipeline.commands.sources import Opened, open_source, store_links
from pipeline.engine import Engine
from pipeline.engine.events import Event, MovementEvent
from pipeline.session import SessionResult, run_session, run_until_signalled
from pipeline.settings import Settings
from pipeline.store.aggregates import Aggregates
from pipeline.store.outbox import DeliveryStatus
from pipeline.store.spool import Spool, SpoolFull
from pipeline.store.write_queue import WriteQueue
from pipeline.workflows.monitoring import SIDE_NOTE, Monitor
from sensors.simulated import SimConfig, Simulation, simulate
from sensors.types import ImuBlock, Side

_STATUS_INTERVAL = 0.5  # s of wall time between status line redraws


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `monitor` verb."""
    p = verbs.add_parser("monitor", help="home monitoring until stopped (Ctrl-C, SIGTERM)")
    p.add_argument("--subject", required=True, help="pseudonym")
    p.add_argument(
        "--source", default="simulated", help="simulated, a recording file, ble, lsl:NAME_L,NAME_R"
    )
    p.add_argument(
        "--speed", type=speed, default=1.0, help="multiple of real time, or 'max' (default: 1)"
    )
    p.add_argument("--duration", type=float, help="s of simulated day (default: 8 h)")
    p.add_argument("--seed", type=int, default=0, help="of the simulated day")
    p.add_argument("--fs", type=float, default=100.0, help="Hz of the simulated sensors")
    p.add_argument("--store-samples", action="store_true", help="keep raw samples too")
    add_lsl_option(p)
    p.set_defaults(handler=monitor)


def monitor(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    opened = open_source(args.source, args.speed, lambda: _simulated_day(args), settings)
    engine = Engine(dataclasses.replace(settings.engine, fs=opened.fs))
    started = time.time()
    # hours of the day on the data's own clock (a recording's, when replayed)
    mon = Monitor(day_offset=(opened.origin or started) % 86400.0)
    status = _Status(sys.stderr, opened)
    with Spool.in_dir(settings.data_dir, max_bytes=settings.spool_max_bytes) as spool:
        agg = Aggregates(spool)
        info = spool.start_session(
            subject=args.subject,
            source=opened.label,
            mode="monitor",
            started_at=started,
            meta={**opened.session_meta(), "fs": f"{opened.fs:g}", "seed": str(args.seed)},
        )
        writes = WriteQueue(info.id)
        store_links(opened, writes)
        pub = publisher(args, settings, info.id, opened.fs, opened.label, opened.source)
        clock = {"t": 0.0}

        def save() -> None:
            rows = mon.ready(clock["t"])
            if rows:
                writes.write(lambda _: agg.put_hours(info.id, rows))
            for w in (warnings := mon.warnings()):
                status.say(f"warning: {w.message}")
            if warnings:
                writes.write(lambda _: agg.add_warnings(info.id, warnings))

        def on_block(block: ImuBlock) -> None:
            mon.block(block)
            if len(block) and float(block.t[-1]) > clock["t"]:
                clock["t"] = float(block.t[-1])
                save()
            status.draw(clock["t"], mon)

        def on_event(event: Event) -> None:
            if isinstance(event, MovementEvent):
                mon.event(event)

        def on_delivery(d: DeliveryStatus) -> None:
            status.delivery = delivery_line(d, time.time())

        async def main(stop: asyncio.Event) -> SessionResult:
            return await run_session(
                opened.source,
                engine,
                spool,
                info.id,
                store_samples=args.store_samples,
                on_event=both(on_event, pub, "event"),
                on_block=both(on_block, pub, "block"),
                stop=stop,
                background=continuous_delivery(settings, on_delivery),
                writes=writes,
                wait_for_store=args.speed is None and not opened.live,
            )

        signals: list[signal.Signals] = []
        result = run_until_signalled(main, signals)
        finish(pub)
        last_hours, last_warnings = mon.flush(), mon.warnings()  # taken once: retried below

        def last_rows() -> None:
            agg.put_hours(info.id, last_hours)
            agg.add_warnings(info.id, last_warnings)
            agg.set_note(info.id, SIDE_NOTE, mon.side_state)  # the report says "undecided" too

        try:
            spool.guard.with_room(last_rows)
        except SpoolFull as e:  # the session and its events are stored: say so, go on
            status.say(f"warning: the last hourly rows were not stored: {e}")
        status.close(clock["t"], mon)
        out = settings.data_dir / "reports" / f"{info.id}.html"
        try:
            if signal.SIGTERM in signals:
                # the machine is shutting down: drawing takes seconds it may not give
                raise OSError("stopped by SIGTERM")
            from pipeline.report.document import write_report  # matplotlib: ~1 s

            write_report(spool, agg, spool.session(info.id), out)
            written = f"report {out}"
        except OSError as e:  # a full disk costs the report, not the session
            written = f"report not written ({e.strerror or e}): `mirrorwatch report` writes it"
        hours = agg.hours(info.id)
    for side in Side:
        mine = [h for h in hours if h.side is side]
        onsets, mirror = sum(h.onsets for h in mine), sum(h.mirror for h in mine)
        rate = f"{100 * mirror / onsets:.0f}" if onsets else "-"
        worn = sum(h.worn_s for h in mine) / 3600
        print(f"{side.value}: {onsets} onsets, {mirror} mirror ({rate} per 100), worn {worn:.1f} h")
    print(
        f"{len(hours) // 2} hourly rows stored; {'stopped' if result.stopped else 'source ended'}"
    )
    print(f"session {info.id}")
    print(written)
    return 0


def _simulated_day(args: argparse.Namespace) -> Simulation:
    try:
        config = SimConfig(fs=args.fs, duration=args.duration, seed=args.seed)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return simulate("home-day", config)


class _Status:
    """One status line on a terminal: link, battery, loss, the session's counts."""

    def __init__(self, stream: TextIO, opened: Opened) -> None:
        self._s = stream
        self._tty = stream.isatty()
        self._opened = opened
        self._drawn = 0.0
        self.delivery = ""  # delivery_line() of the last status, when delivering

    def line(self, t: float, mon: Monitor) -> str:
        c = mon.counts
        link = self._opened.link
        sides = []
        for side in Side:
            state = link(side) if link is not None else None
            extra = "" if state is None else f" {state}"
            sides.append(
                f"{side.value}{extra} loss {c.loss(side):.1%} "
                f"today {c.onsets[side]} moves {c.mirror[side]} mirror"
            )
        h, m = divmod(int(t) // 60, 60)
        return f"{h:2d}:{m:02d} h  " + "  |  ".join(
            [*sides, *([self.delivery] if self.delivery else [])]
        )

    def draw(self, t: float, mon: Monitor) -> None:
        now = time.monotonic()
        if self._tty and now - self._drawn >= _STATUS_INTERVAL:
            self._drawn = now
            self._s.write("\r\033[K" + self.line(t, mon))
            self._s.flush()

    def say(self, text: str) -> None:
        self._s.write(("\r\033[K" if self._tty else "") + text + "\n")
        self._s.flush()

    def close(self, t: float, mon: Monitor) -> None:
        self._s.write(("\r\033[K" if self._tty else "") + self.line(t, mon) + "\n")
        self._s.flush()
