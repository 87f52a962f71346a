"""The online engine, the stores, sessions, reports and the CLI."""

from pipeline.compiled import check_fresh

check_fresh()
