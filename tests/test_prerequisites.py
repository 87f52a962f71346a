"""The README's test command on a machine with Python alone: what is missing skips.

The test suite runs again, in a child pytest, with a PATH that has every program of
this machine except the ones `.ci/run` installs from Debian packages (and git, gcc):
the tests that need them must be skipped with one line naming the package, none may
fail. With MIRRORWATCH_REQUIRE_ALL set (as `.ci/run` sets it) a missing program
fails instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prerequisites import REQUIRE_ALL

ROOT = Path(__file__).resolve().parents[1]
# Program -> Debian package: the APT_PACKAGES of .ci/run, and what a bare Debian lacks.
PROGRAMS = {
    "victoria-metrics": "victoria-metrics",
    "influxd": "influxdb",
    "chromium": "chromium",
    "dbus-daemon": "dbus-daemon",
    "git": "git",
}
COMPILERS = ("gcc", "cc", "c++", "g++", "x86_64-linux-gnu-gcc")  # no test may build the engine
# ble last: its tests import `conftest`, which names the conftest pytest loaded last
NEEDING = [
    "tests/workflows/test_report_browser.py",
    "tests/integration/influx",
    "tests/integration/ble",
]


def bare_path(tmp_path: Path) -> str:
    """A PATH with links to every program on this one, less PROGRAMS and COMPILERS."""
    shadow = tmp_path / "bin"
    shadow.mkdir()
    hidden = set(PROGRAMS) | set(COMPILERS)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not Path(folder).is_dir():
            continue
        for entry in Path(folder).iterdir():
            link = shadow / entry.name
            if entry.name in hidden or link.exists() or not os.access(entry, os.X_OK):
                continue
            link.symlink_to(entry)
    return str(shadow)


def child_pytest(
    tmp_path: Path, *args: str, require_all: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_ALL}
    env["PATH"] = bare_path(tmp_path)
    if require_all:
        env[REQUIRE_ALL] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )


@pytest.mark.timeout(120)
def test_missing_programs_skip_with_the_package_named(tmp_path: Path) -> None:
    r = child_pytest(tmp_path, *NEEDING)
    tail = r.stdout[-3000:]
    assert r.returncode == 0, tail
    assert not re.search(r"\d+ (failed|errors?)\b", tail), tail
    skipped = [line for line in r.stdout.splitlines() if line.startswith("SKIPPED")]
    for program, package in PROGRAMS.items():
        assert any(f"needs {program} (Debian package {package})" in s for s in skipped), (
            program,
            tail,
        )


def test_under_ci_a_missing_program_fails(tmp_path: Path) -> None:
    r = child_pytest(tmp_path, "tests/workflows/test_report_browser.py", require_all=True)
    assert r.returncode == 1, r.stdout[-2000:]
    assert "needs chromium (Debian package chromium)" in r.stdout
    assert f"{REQUIRE_ALL} is set" in r.stdout
