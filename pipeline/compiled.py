"""Which engine modules run compiled, and what runs instead of a stale build.

setup.py compiles the engine's per-row modules with mypyc and records the sha256
of each source it compiled (BUILD_RECORD, beside the modules). Python imports an
extension before the .py beside it, so after an edit, a `git checkout` or a
`git stash` the old build would run in silence. `load_engine` compares the
sources with that record when `pipeline` is imported and, if any differs (or the
build is incomplete), imports every engine module from its .py instead: the
compiled modules share one library, so it is all of them or none. A file touched
with its content unchanged keeps the compiled engine. Importing stays silent;
the CLI prints `fallback_note()` as one line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

# The modules setup.py compiles (the engine's per-row work) and its mypyc group name.
# setup.py runs this file on its own: stdlib imports only.
ENGINE_MODULES = ("align", "filters", "history", "onset", "matched", "mirror", "core")
ENGINE_PACKAGE = "pipeline.engine"  # where they live; mypyc compiles nothing outside it
GROUP = "mirrorwatch_engine"
BUILD_RECORD = "engine_build.json"  # written by setup.py beside the modules, git-ignored
NO_COMPILE = "MIRRORWATCH_NO_COMPILE"  # set to 1: setup.py leaves the engine interpreted

_PACKAGE = Path(__file__).resolve().parent / "engine"
_fallback: str | None = None  # why this process runs the engine from .py despite a build


def source_hashes(package: Path, names: Sequence[str] = ENGINE_MODULES) -> dict[str, str]:
    """sha256 of each engine module's source in `package`, by module name."""
    return {
        name: hashlib.sha256((package / f"{name}.py").read_bytes()).hexdigest() for name in names
    }


def write_record(package: Path, hashes: dict[str, str]) -> None:
    """Record what a build was compiled from (setup.py, after a complete build)."""
    text = json.dumps({"group": GROUP, "sha256": hashes}, indent=1, sort_keys=True)
    (package / BUILD_RECORD).write_text(text + "\n")


def stale_build(package: Path = _PACKAGE) -> str | None:
    """Why the compiled engine in `package` must not run; None if fresh or not built."""
    built = [
        name
        for name in ENGINE_MODULES
        if _extension(package, name) is not None and (package / f"{name}.py").is_file()
    ]
    if not built:
        return None
    # Each module's extension is a shim; the code is in the group library at the import root.
    if _extension(package.parents[1], f"{GROUP}__mypyc") is None:
        return f"the compiled engine is incomplete (no {GROUP}__mypyc library)"
    recorded = _read_record(package)
    if recorded is None:
        return f"the compiled engine has no readable record of its sources ({BUILD_RECORD})"
    current = source_hashes(package, built)
    changed = [
        f"{package.parent.name}/{package.name}/{n}.py"
        for n in built
        if recorded.get(n) != current[n]
    ]
    if changed:
        return f"{', '.join(changed)} changed since the engine was compiled"
    return None


def compiled_modules(package: Path = _PACKAGE) -> list[str]:
    """The engine modules that run compiled from `package`: none when the build is stale."""
    if stale_build(package) is not None:
        return []
    return [name for name in ENGINE_MODULES if _extension(package, name) is not None]


def load_engine(package: Path = _PACKAGE) -> None:
    """Make a stale build's engine modules import from their .py files.

    Called by `pipeline/__init__.py`, before any engine module is imported.
    """
    global _fallback
    reason = stale_build(package)
    if reason is None or any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _SourceFinder(package))
    _fallback = reason


def fallback_note() -> str | None:
    """One line for the user when the engine runs from source despite a build, else None."""
    if _fallback is None:
        return None
    return (
        f"{_fallback}: running it interpreted (2-3x slower) until it is rebuilt "
        f"(`pip install -e .` in the checkout)"
    )


class _SourceFinder(MetaPathFinder):
    """Finds `pipeline.engine.<module>` as its .py file, ahead of the extension beside it."""

    def __init__(self, package: Path) -> None:
        self._package = package

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        parent, _, name = fullname.rpartition(".")
        source = self._package / f"{name}.py"
        if parent != ENGINE_PACKAGE or name not in ENGINE_MODULES or not source.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def _read_record(package: Path) -> dict[str, str] | None:
    try:
        record = json.loads((package / BUILD_RECORD).read_text())
    except (OSError, ValueError):
        return None
    hashes = record.get("sha256") if isinstance(record, dict) else None
    if not isinstance(hashes, dict) or record.get("group") != GROUP:
        return None
    return {str(k): str(v) for k, v in hashes.items()}


def _extension(package: Path, name: str) -> Path | None:
    for suffix in EXTENSION_SUFFIXES:
        path = package / f"{name}{suffix}"
        if path.is_file():
            return path
    return None
