"""Which engine modules run compiled, and a guard against a stale compiled build.

setup.py compiles the engine's per-row modules with mypyc. In a source checkout
(`pip install -e .`) each compiled module sits beside its .py file and Python
imports it first, so an edited .py would be ignored in silence until the next
build: `check_fresh` refuses to start instead.
"""

from __future__ import annotations

import math
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

# The modules setup.py compiles (the engine's per-row work) and its mypyc group name.
# setup.py runs this file on its own: stdlib imports only.
ENGINE_MODULES = ("align", "filters", "history", "onset", "matched", "mirror", "engine")
GROUP = "mirrorwatch_engine"

_PACKAGE = Path(__file__).resolve().parent


class StaleBuild(ImportError):
    """A compiled engine module is older than its source."""


def compiled_modules(package: Path = _PACKAGE) -> list[str]:
    """The engine modules with a compiled extension in `package`."""
    return [name for name in ENGINE_MODULES if _extension(package, name) is not None]


def check_fresh(package: Path = _PACKAGE) -> None:
    """Raise StaleBuild if a source checkout's compiled module is older than its .py.

    Only in a checkout (setup.py beside the package): an installed wheel's file
    times say when it was unpacked, not when it was built.
    """
    if not (package.parent / "setup.py").is_file():
        return
    # Each module's extension is a small shim that a rebuild may leave untouched; the
    # code itself is in the group library setup.py names, beside the package.
    library = _extension(package.parent, f"{GROUP}__mypyc")
    built_at = library.stat().st_mtime if library is not None else -math.inf
    stale = []
    for name in ENGINE_MODULES:
        ext = _extension(package, name)
        source = package / f"{name}.py"
        if ext is None or not source.is_file():
            continue
        if source.stat().st_mtime > max(ext.stat().st_mtime, built_at):
            stale.append(f"{package.name}/{name}.py")
    if stale:
        raise StaleBuild(
            f"{', '.join(stale)} changed after the engine was compiled: rebuild it with "
            f"`.venv/bin/pip install -e .` or remove the build with "
            f"`rm {package.name}/*.so` to run the engine interpreted"
        )


def _extension(package: Path, name: str) -> Path | None:
    for suffix in EXTENSION_SUFFIXES:
        path = package / f"{name}{suffix}"
        if path.is_file():
            return path
    return None
