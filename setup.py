"""Build hook: compile the engine's per-row modules to C with mypyc.

The online engine works a few rows at a time on Python floats (see
pipeline/align.py). Interpreted, that is 675-925x real time for a wrist pair at
100 Hz; compiled from the same typed source it is 1700-2300x (README, Performance),
and its events are bit-identical (tests/pipeline/test_compiled.py). Everything else
in the project metadata lives in pyproject.toml.

The extensions are optional: without a C compiler or Python headers the install
still succeeds and the engine runs interpreted, only slower.
MIRRORWATCH_PURE_PYTHON=1 skips compiling on purpose.
"""

from __future__ import annotations

import os
import runpy

from setuptools import Extension, setup

# pipeline/compiled.py names the engine's per-row modules and the mypyc group, for
# this build and for the checks on it. Run as a file: importing the package would
# run its stale-build check against the very build this replaces.
_NAMES = runpy.run_path("pipeline/compiled.py")


def engine_extensions() -> list[Extension]:
    if os.environ.get("MIRRORWATCH_PURE_PYTHON"):
        return []
    from mypyc.build import mypycify

    paths = [f"pipeline/{name}.py" for name in _NAMES["ENGINE_MODULES"]]
    extensions = mypycify(paths, opt_level="3", group_name=_NAMES["GROUP"])
    for ext in extensions:
        ext.optional = True  # a failed compile leaves the interpreted module in use
    return extensions


setup(ext_modules=engine_extensions())
