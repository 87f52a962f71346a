"""The `mirrorwatch` command (DESIGN.md §4: verbs, exit codes, output streams).

Exit 0 on success, 2 on usage or data errors (one line on stderr), 1 on an
internal error. Machine-readable output goes to stdout alone; progress and
messages go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline import commands
from pipeline.config import ConfigError
from pipeline.settings import load_settings
from pipeline.store.spool import SpoolError
from sensors.recording import RecordingError
from sensors.simulated import SCENARIOS

log = logging.getLogger("mirrorwatch")


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'max', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mirrorwatch",
        description="Measure mirror movements from two wrist-worn IMUs.",
    )
    p.add_argument("--data-dir", type=Path, help="where the spool lives (default: per user)")
    p.add_argument("--config", type=Path, help="mirrorwatch.toml to use")
    p.add_argument("-v", "--verbose", action="store_true", help="log details and tracebacks")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    demo = verbs.add_parser("demo", help="simulated wrists through the engine into the spool")
    _simulation_args(demo, default_speed=None)
    demo.add_argument("--subject", default="demo", help="pseudonym (default: demo)")
    demo.add_argument("--store-samples", action="store_true", help="keep raw samples too")

    analyze = verbs.add_parser("analyze", help="run a recording (CSV v1) through the engine")
    analyze.add_argument("file", type=Path)
    analyze.add_argument("--json", action="store_true", help="JSON lines on stdout, nothing else")
    analyze.add_argument("--subject", help="pseudonym (default: the file's metadata or 'anon')")
    analyze.add_argument("--no-store", action="store_true", help="do not keep events in the spool")

    record = verbs.add_parser("record", help="write a recording (CSV v1, .csv or .csv.gz)")
    record.add_argument("--source", choices=["simulated"], default="simulated")
    record.add_argument("--out", type=Path, required=True)
    _simulation_args(record, default_speed=None)
    record.add_argument("--subject", default="sim", help="pseudonym written as metadata")

    events = verbs.add_parser("events", help="list stored movement events")
    events.add_argument("--session", help="session id, unique prefix or 'latest' (default: all)")
    events.add_argument("--format", choices=["table", "json", "csv"], default="table")
    return p


def _simulation_args(p: argparse.ArgumentParser, default_speed: float | None) -> None:
    p.add_argument("--scenario", choices=SCENARIOS, default="firearm-drill")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, help="s (default: the scenario's)")
    p.add_argument("--fs", type=float, default=100.0, help="Hz (default: 100)")
    p.add_argument("--no-gyro", action="store_true", help="accelerometer-only wrists")
    p.add_argument("--loss", type=float, default=0.0, help="packet loss probability")
    p.add_argument(
        "--speed",
        type=_speed,
        default=default_speed,
        help="multiple of real time, or 'max' (default: max)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "demo": commands.demo,
        "analyze": commands.analyze,
        "record": commands.record,
        "events": commands.events,
    }
    started = time.monotonic()
    try:
        args.settings = load_settings(args.config, args.data_dir)
        code = handlers[args.verb](args)
    except (ConfigError, RecordingError, SpoolError, commands.UsageError) as e:
        print(f"mirrorwatch: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mirrorwatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed by a pager or `head`: not an error of ours
        sys.stderr.close()
        return 0
    except Exception as e:
        if args.verbose:
            log.exception("internal error")
        print(f"mirrorwatch: internal error: {e!r} (run with -v for details)", file=sys.stderr)
        return 1
    log.debug("%s took %.2f s", args.verb, time.monotonic() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
