"""The online engine, the stores, sessions, reports and the CLI."""

from pipeline.compiled import load_engine

# Before any engine module is imported: a stale compiled build must not be the one loaded.
load_engine()
