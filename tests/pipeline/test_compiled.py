"""The compiled engine (setup.py, mypyc) gives the interpreted engine's events, bit for bit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import pipeline
from pipeline.compiled import ENGINE_MODULES, StaleBuild, check_fresh, compiled_modules

ROOT = Path(pipeline.__file__).resolve().parent.parent

# Events of a few simulated sessions covering gyro/accelerometer-only, gravity,
# packet loss and jitter, hashed by their repr (which prints every float exactly).
DIGEST = """
import dataclasses, hashlib, itertools
import pipeline.align
from pipeline.config import EngineConfig
from pipeline.engine import Engine
from sensors.simulated import SimConfig, simulate

h = hashlib.sha256()
for scenario, fs, gravity, gyro, loss in itertools.product(
    ["mirror-strong", "firearm-drill"], [50.0, 200.0], [True, False], [True, False], [0.0, 0.03]
):
    sim = simulate(scenario, SimConfig(fs=fs, duration=30, gravity=gravity, gyro=gyro,
                                       loss_rate=loss, jitter=0.002, seed=3))
    engine = Engine(dataclasses.replace(EngineConfig(), fs=fs))
    events = [e for b in sim.blocks() for e in engine.feed(b)] + engine.flush()
    for e in events:
        h.update(repr(e).encode())
print(pipeline.align.__file__.endswith(".py"), len(events), h.hexdigest())
"""


def _digest(path: Path) -> tuple[str, str]:
    env = {**os.environ, "PYTHONPATH": str(path)}
    out = subprocess.run(
        [sys.executable, "-c", DIGEST],
        cwd=path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], " ".join(out[1:])


@pytest.mark.skipif(not compiled_modules(), reason="engine not compiled (no C compiler?)")
def test_compiled_engine_equals_interpreted(tmp_path: Path) -> None:
    for package in ("pipeline", "sensors"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
        )
    compiled_flag, compiled = _digest(ROOT)
    interpreted_flag, interpreted = _digest(tmp_path)
    assert (compiled_flag, interpreted_flag) == ("False", "True")  # each ran what it should
    assert compiled == interpreted


def _package(tmp_path: Path, checkout: bool) -> Path:
    package = tmp_path / "pipeline"
    package.mkdir()
    if checkout:
        (tmp_path / "setup.py").write_text("")
    for name in ENGINE_MODULES:
        (package / f"{name}{EXTENSION_SUFFIXES[0]}").write_bytes(b"")
        (package / f"{name}.py").write_text("")
    return package


def _touch_later(path: Path) -> None:
    later = time.time() + 10
    os.utime(path, (later, later))


def test_stale_build_in_a_checkout_is_refused(tmp_path: Path) -> None:
    package = _package(tmp_path, checkout=True)
    check_fresh(package)  # built after the sources: fine
    _touch_later(package / "onset.py")
    with pytest.raises(StaleBuild, match=r"pipeline/onset\.py changed .*pip install -e \."):
        check_fresh(package)


def test_installed_package_times_are_not_judged(tmp_path: Path) -> None:
    package = _package(tmp_path, checkout=False)
    _touch_later(package / "onset.py")
    check_fresh(package)
