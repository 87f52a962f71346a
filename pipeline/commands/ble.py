"""Verbs for the wrist sensors over BLE: scan, pair, and `record --source ble`.

bleak is imported only when a BLE verb runs, so the other verbs start without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from pipeline.commands import UsageError
from pipeline.commands.outfile import OutFile
from pipeline.commands.sources import start_metadata
from pipeline.config_edit import update_config
from pipeline.session import run_until_signalled
from pipeline.settings import CONFIG_NAME, Settings
from sensors.ble_config import BleConfig, check_address
from sensors.recording import RecordingWriter
from sensors.types import Side

if TYPE_CHECKING:
    from sensors.ble import BleSource
    from sensors.ble_link import LinkStatus

T = TypeVar("T")


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's verbs to the CLI."""
    p = verbs.add_parser("scan", help="list supported wrist sensors advertising nearby")
    p.add_argument("--seconds", type=float, default=5.0, help="how long to listen (default: 5)")
    p.add_argument("--json", action="store_true", help="JSON lines on stdout, nothing else")
    p.set_defaults(handler=scan)

    p = verbs.add_parser(
        "pair", help="store the left and right wrist sensors in the config and bond them"
    )
    p.add_argument("--left", type=_address, required=True, help="address of the left wrist")
    p.add_argument("--right", type=_address, required=True, help="address of the right wrist")
    p.add_argument(
        "--seconds", type=float, default=10.0, help="how long to look for the wrists (default: 10)"
    )
    bonding = p.add_mutually_exclusive_group()
    bonding.add_argument(
        "--no-bond", action="store_true", help="only write the config; leave the wrists alone"
    )
    bonding.add_argument(
        "--rebond",
        action="store_true",
        help="drop the bonds BlueZ holds first (a wrist that was reset or paired elsewhere)",
    )
    p.set_defaults(handler=pair)


def _address(text: str) -> str:
    try:
        return check_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def scan(args: argparse.Namespace) -> int:
    """Supported sensors nearby, strongest first: a table, or JSON lines."""
    from sensors.ble import scan as ble_scan

    if args.seconds <= 0:
        raise UsageError("--seconds must be > 0")
    found = _bluetooth(lambda: asyncio.run(ble_scan(args.seconds)))
    for f in found:
        if args.json:
            row = {"name": f.name, "address": f.address, "rssi": f.rssi, "profile": f.profile}
            print(json.dumps(row))
    if not args.json:
        if not found:
            print(f"no supported sensors seen in {args.seconds:g} s", file=sys.stderr)
            return 0
        print(f"{'name':<24}{'address':<20}{'rssi':>6}  profile")
        for f in found:
            print(f"{f.name:<24}{f.address:<20}{f.rssi:>6}  {f.profile}")
    return 0


def pair(args: argparse.Namespace) -> int:
    """Write the pair into the `[ble]` table of the config file, keeping everything else,
    then bond each wrist (firmware_notes/gatt.md, "Bonding"); exit 1 if one is not bonded."""
    settings: Settings = args.settings
    if args.seconds <= 0:
        raise UsageError("--seconds must be > 0")
    try:
        ble = BleConfig.from_mapping(
            {**settings.ble.to_mapping(), "left": args.left, "right": args.right}
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    path = args.config or settings.config_path or _user_config_path()
    wrists = {k: v for k, v in ble.to_mapping().items() if k in ("left", "right")}
    update_config(path, "ble", wrists)  # the rest of the file stays as the user wrote it
    print(f"paired left {ble.left}, right {ble.right} in {path}")
    if args.no_bond:
        return 0
    return _bond({Side.L: args.left, Side.R: args.right}, args.seconds, args.rebond)


def _bond(wrists: dict[Side, str], seconds: float, rebond: bool) -> int:
    """Bond both wrists; one line per wrist, failures on stderr with what to do."""
    from sensors.ble_bond import bond_wrists

    try:
        bonds = _bluetooth(lambda: asyncio.run(bond_wrists(wrists, seconds, rebond=rebond)))
    except UsageError as e:
        again = "run pair again on the gateway (--no-bond: only write the config)"
        print(f"mirrorwatch: not bonded: {e}; {again}", file=sys.stderr)
        return 1
    for bond in bonds:
        if bond.ok:
            print(bond.line())
        else:
            print(f"mirrorwatch: {bond.line()}", file=sys.stderr)
    return 0 if all(bond.ok for bond in bonds) else 1


def ble_source(settings: Settings) -> BleSource:
    """The paired wrists as a Source; link changes are reported on stderr."""
    from sensors.ble import BleSource, bluetooth_available

    if settings.ble.left is None or settings.ble.right is None:
        raise UsageError("no wrists paired: run `mirrorwatch pair --left ADDR --right ADDR`")
    # before any session or file is started: without Bluetooth nothing would be recorded
    _bluetooth(lambda: asyncio.run(bluetooth_available()))
    return BleSource(settings.ble, on_status=_print_status)


def record_ble(args: argparse.Namespace) -> int:
    """`record --source ble`: the paired wrists into a recording file for --duration s."""
    settings: Settings = args.settings
    if args.duration is None or args.duration <= 0:
        raise UsageError("--source ble needs --duration S (seconds to record)")
    OutFile(args.out, args.force)  # a bad --out is told before the wrists are searched for
    source = ble_source(settings)
    metadata = {
        "subject": args.subject,
        "device": f"ble:L={settings.ble.left},R={settings.ble.right}",
        "fs": f"{settings.ble.odr_hz:g}",
        "note": "mirrorwatch record --source ble",
        "start": start_metadata(time.time()),  # t = 0 is when the links start, ~now
    }

    async def take(writer: RecordingWriter) -> None:
        """Blocks until both wrists have passed --duration; samples after it are cut."""
        finished: set[Side] = set()
        async with contextlib.aclosing(source.blocks()) as blocks:
            async for block in blocks:
                keep = int(np.searchsorted(block.t, args.duration))
                if keep:
                    writer.write(block.slice(0, keep))
                if keep < len(block):
                    finished.add(block.side)
                    if len(finished) == len(Side):
                        return

    with OutFile(args.out, args.force) as out:
        with RecordingWriter(out.tmp, metadata) as writer:
            _bluetooth(lambda: run_until_signalled(lambda stop: _until_stopped(take(writer), stop)))
        out.commit(writer.rows)
    lost = ", ".join(f"{s}: {source.assemblers[s].stats.lost} lost" for s in Side)
    print(f"wrote {writer.rows} rows to {args.out} ({lost})")
    return 0


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Runs `work` until it ends or `stop` is set (Ctrl-C), then cleans it up."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([task, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    task.result()


def _print_status(status: LinkStatus) -> None:
    """One line per link change on stderr, clearing a status line being drawn there."""
    extra = [f"battery {status.battery} %"] if status.battery is not None else []
    if status.detail:
        extra.append(status.detail)
    more = f" ({', '.join(extra)})" if extra else ""
    clear = "\r\033[K" if sys.stderr.isatty() else ""
    print(f"{clear}{status.side} {status.address}: {status.state}{more}", file=sys.stderr)


def _bluetooth(call: Callable[[], T]) -> T:
    """Runs `call`; a missing adapter or Bluetooth service becomes one line, exit 2."""
    from bleak.exc import BleakError

    try:
        return call()
    except FileNotFoundError as e:
        # bleak found no system D-Bus socket to talk to BlueZ through
        where = f" ({e.filename})" if e.filename else ""
        raise UsageError(
            f"Bluetooth is not available: BlueZ or the system D-Bus is missing{where}; "
            "install and start bluez and dbus"
        ) from None
    except (BleakError, OSError) as e:
        raise UsageError(f"Bluetooth is not available: {e}") from None


def _user_config_path() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "mirrorwatch" / CONFIG_NAME
