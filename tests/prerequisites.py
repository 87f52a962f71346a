"""What a test needs from outside the virtualenv, said the same way everywhere.

A test needing a program (a server, a browser, a bus daemon) or an optional Python
package calls `require_program` or `require_module`, or carries the marker
`@pytest.mark.requires_program(name, package)` (tests/conftest.py). Where it is
missing the test is skipped with one line naming the Debian package or the pip extra,
so the README's test command passes on a machine that has only Python. `.ci/run`
installs everything and sets MIRRORWATCH_REQUIRE_ALL=1: then a missing prerequisite
fails the test instead, so CI cannot go green by skipping.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest

REQUIRE_ALL = "MIRRORWATCH_REQUIRE_ALL"


def require_program(name: str, package: str) -> str:
    """The path of program `name` on PATH; skip (fail under REQUIRE_ALL) without it."""
    path = shutil.which(name)
    if path is None:
        _missing(f"needs {name} (Debian package {package})")
    return path


def require_module(name: str, extra: str) -> ModuleType:
    """Module `name` imported; skip (fail under REQUIRE_ALL) when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"needs the Python package {name} (pip install -e '.[{extra}]')")


def required_everywhere() -> bool:
    """Whether a missing prerequisite fails (CI) rather than skips (a fresh machine)."""
    return os.environ.get(REQUIRE_ALL, "") not in ("", "0")


def _missing(reason: str) -> NoReturn:
    if required_everywhere():
        pytest.fail(f"{reason}; {REQUIRE_ALL} is set, so it must be there", pytrace=False)
    pytest.skip(reason, allow_module_level=True)  # also from a test module's import
