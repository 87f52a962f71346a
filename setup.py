"""Build hook: compile the engine's per-row modules to C with mypyc.

The online engine works a few rows at a time on Python floats (see
pipeline/engine/align.py). Interpreted, that is 675-925x real time for a wrist pair at
100 Hz; compiled from the same typed source it is 1700-2300x (README, Performance),
and its events are bit-identical (tests/engine/test_compiled.py). Everything else
in the project metadata lives in pyproject.toml.

Compiling never fails the install. MIRRORWATCH_NO_COMPILE=1 skips it; any failure
on the way (mypyc type-checks the engine and exits on an error; no mypyc, no C
compiler, no Python headers) leaves the engine interpreted, 2-3x slower, with one
line saying why. A complete build records the sha256 of every source it compiled
(pipeline/engine/engine_build.json), which pipeline/compiled.py checks at import.
"""

from __future__ import annotations

import os
import runpy
import shutil
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# pipeline/compiled.py names the engine's modules, the mypyc group and the build
# record. Run as a file: importing the package would judge the very build this replaces.
_COMPILED = runpy.run_path("pipeline/compiled.py")
ENGINE_MODULES: tuple[str, ...] = _COMPILED["ENGINE_MODULES"]
GROUP: str = _COMPILED["GROUP"]
RECORD: str = _COMPILED["BUILD_RECORD"]
NO_COMPILE: str = _COMPILED["NO_COMPILE"]
PACKAGE: str = _COMPILED["ENGINE_PACKAGE"]
_DIR = Path(*PACKAGE.split("."))  # pipeline/engine, relative to the project root
_LIBRARY = f"{GROUP}__mypyc"  # the group's shared code; each module's extension is a shim
_EXTENSION_NAMES = {f"{PACKAGE}.{name}" for name in ENGINE_MODULES} | {_LIBRARY}
_compiled_from: dict[str, str] = {}  # sha256 of the sources mypyc compiled, by module


def engine_extensions() -> list[Extension]:
    """The engine's extensions from mypyc, or none (with one line saying why)."""
    if os.environ.get(NO_COMPILE, "") not in ("", "0"):
        interpreted(f"{NO_COMPILE} is set")
        return []
    hashes = _COMPILED["source_hashes"](_DIR)  # before mypyc reads them
    try:
        from mypyc.build import mypycify

        paths = [str(_DIR / f"{name}.py") for name in ENGINE_MODULES]
        extensions: list[Extension] = mypycify(paths, opt_level="3", group_name=GROUP)
    except (Exception, SystemExit) as e:  # mypyc exits on a type error
        interpreted(_why(e))
        return []
    for ext in extensions:
        ext.optional = True  # BuildEngine drops them all if one fails: copy what exists
    _compiled_from.update(hashes)
    return extensions


def interpreted(reason: str) -> None:
    """Say why the engine is not compiled; remove an earlier build from the checkout."""
    print(
        f"mirrorwatch: engine not compiled ({reason}); it runs interpreted, 2-3x slower",
        file=sys.stderr,
    )
    # An older build left in a checkout (`pip install -e .`) would be judged stale at
    # import and skipped; removing it says plainly what runs.
    remove_build(Path("."))


def remove_build(root: Path) -> None:
    """Delete the engine's extensions and build record under project directory `root`.

    Unlinking, never overwriting: a process running the old build keeps its copy.
    """
    for suffix in EXTENSION_SUFFIXES:
        (root / f"{_LIBRARY}{suffix}").unlink(missing_ok=True)
        for name in ENGINE_MODULES:
            (root / _DIR / f"{name}{suffix}").unlink(missing_ok=True)
    (root / _DIR / RECORD).unlink(missing_ok=True)


def _why(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        detail = error.code if isinstance(error.code, str) else "see its messages above"
        return f"mypyc stopped: {detail}"
    return f"{type(error).__name__}: {error}"


class BuildEngine(build_ext):
    """Builds the engine's extensions all or none, and records what they came from.

    A shim without the group library would fail at import, so a failure of any
    one extension leaves the engine interpreted.
    """

    def run(self) -> None:
        if self.inplace:
            remove_build(Path("."))  # before setuptools copies the new build in place
        super().run()
        record = Path(self.build_lib) / _DIR / RECORD
        if self.inplace and record.is_file():
            shutil.copyfile(record, _DIR / RECORD)

    def build_extensions(self) -> None:
        # setuptools builds into build_lib here, also in place (it copies afterwards)
        self._failed: list[str] = []
        super().build_extensions()
        engine = [ext for ext in self.extensions if ext.name in _EXTENSION_NAMES]
        if not engine:
            return
        record = Path(self.build_lib) / _DIR / RECORD
        if self._failed:
            for ext in engine:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            record.unlink(missing_ok=True)
            interpreted(f"the C build failed: {self._failed[0]}")
            return
        _COMPILED["write_record"](record.parent, _compiled_from)

    def build_extension(self, ext: Extension) -> None:
        if ext.name not in _EXTENSION_NAMES:
            super().build_extension(ext)
            return
        if self._failed:
            return  # the group library comes first: without it the shims are no use
        try:
            super().build_extension(ext)
        except Exception as e:  # no compiler, no Python.h, a compile error
            self._failed.append(f"{ext.name}: {e}")


setup(ext_modules=engine_extensions(), cmdclass={"build_ext": BuildEngine})
