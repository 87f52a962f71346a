"""An output file that appears whole or not at all: `record --out`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType

from pipeline.commands import UsageError


class OutFile:
    """Writes go to `tmp` beside `path`; `commit` renames it into place.

    Checked at once, before anything is recorded: the directory exists, and `path`
    does not unless `force`. Leaving the `with` block without a commit (an error, an
    empty recording) removes `tmp`, so a failed run never leaves a header-only file.
    """

    def __init__(self, path: Path, force: bool) -> None:
        if path.is_dir():
            raise UsageError(f"--out {path}: is a directory")
        if not path.parent.is_dir():
            raise UsageError(f"--out {path}: no such directory: {path.parent}")
        if path.exists() and not force:
            raise UsageError(f"--out {path}: the file exists; --force overwrites it")
        self.path = path
        # the suffix stays last: the writer picks gzip by it
        self.tmp = path.with_name(f".part-{os.getpid()}-{path.name}")
        self._committed = False

    def commit(self, rows: int) -> None:
        """Put the file in place; UsageError (and no file) if nothing was recorded."""
        if rows == 0:
            raise UsageError(f"--out {self.path}: no samples were recorded; no file written")
        self.tmp.replace(self.path)
        self._committed = True

    def __enter__(self) -> OutFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()
