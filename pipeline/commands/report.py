"""`mirrorwatch report`: one self-contained HTML report of a stored session."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.settings import Settings
from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `report` verb."""
    p = verbs.add_parser("report", help="HTML report of a stored session")
    p.add_argument("--session", default="latest", help="id, unique prefix or 'latest'")
    p.add_argument("--out", type=Path, help="HTML file (default: <data-dir>/reports/ID.html)")
    p.set_defaults(handler=report)


def report(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    with Spool.for_reading(settings.data_dir) as spool:
        info = spool.session(args.session)
        out = args.out or settings.data_dir / "reports" / f"{info.id}.html"
        if spool.read_only and args.out is None:
            out = Path.cwd() / f"{info.id}.html"  # not beside a spool on read-only media
        from pipeline.report.document import write_report  # matplotlib: ~1 s, only to draw

        write_report(spool, Aggregates(spool), info, out)
    print(out)
    return 0
