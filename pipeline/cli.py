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
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from pipeline.commands import Handler, UsageError, assess, ble, delivery, local, monitor, report
from pipeline.compiled import fallback_note
from pipeline.engine.config import ConfigError
from pipeline.settings import load_settings
from pipeline.store.spool import SpoolError
from sensors.recording import RecordingError

_VERB_MODULES = (
    local,
    delivery,
    assess,
    monitor,
    report,
    ble,
)  # each has register(verbs); add a module per verb group

log = logging.getLogger("mirrorwatch")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (exit 2) instead of the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="mirrorwatch",
        description="Measure mirror movements from two wrist-worn IMUs.",
    )
    p.add_argument("--data-dir", type=Path, help="where the spool lives (default: per user)")
    p.add_argument("--config", type=Path, help="mirrorwatch.toml to use")
    p.add_argument("-v", "--verbose", action="store_true", help="log details and tracebacks")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in _VERB_MODULES:
        module.register(verbs)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (note := fallback_note()) is not None:
        # importing stays silent (library users, tests); the user of the command is told
        print(f"mirrorwatch: {note}", file=sys.stderr)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    started = time.monotonic()
    try:
        args.settings = load_settings(args.config, args.data_dir)
        handler: Handler = args.handler
        code = handler(args)
    except (ConfigError, RecordingError, SpoolError, UsageError) as e:
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
