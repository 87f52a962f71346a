"""The compiled engine (setup.py, mypyc) gives the interpreted engine's events, bit for bit.

A build whose sources have changed since is not run (pipeline/compiled.py).
"""

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
from pipeline.compiled import (
    ENGINE_MODULES,
    GROUP,
    compiled_modules,
    source_hashes,
    stale_build,
    write_record,
)

ROOT = Path(pipeline.__file__).resolve().parent.parent

# Events of a few simulated sessions covering gyro/accelerometer-only, gravity,
# packet loss and jitter, hashed by their repr (which prints every float exactly).
DIGEST = """
import dataclasses, hashlib, itertools
import pipeline.engine.align
from pipeline.engine.config import EngineConfig
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
print(pipeline.engine.align.__file__.endswith(".py"), len(events), h.hexdigest())
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


@pytest.mark.skipif(not compiled_modules(), reason="engine not compiled, or its build is stale")
def test_compiled_engine_equals_interpreted(tmp_path: Path) -> None:
    for package in ("pipeline", "sensors"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
        )
    compiled_flag, compiled = _digest(ROOT)
    interpreted_flag, interpreted = _digest(tmp_path)
    assert (compiled_flag, interpreted_flag) == ("False", "True")  # each ran what it should
    assert compiled == interpreted


def _package(tmp_path: Path) -> Path:
    """A fake build: an extension beside each engine source, the group library, the record."""
    package = tmp_path / "pipeline" / "engine"
    package.mkdir(parents=True)
    for name in ENGINE_MODULES:
        (package / f"{name}{EXTENSION_SUFFIXES[0]}").write_bytes(b"")
        (package / f"{name}.py").write_text(f"NAME = {name!r}\n")
    (tmp_path / f"{GROUP}__mypyc{EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    write_record(package, source_hashes(package))
    return package


def _touch_later(path: Path) -> None:
    later = time.time() + 10
    os.utime(path, (later, later))


def test_a_fresh_build_runs_compiled(tmp_path: Path) -> None:
    package = _package(tmp_path)
    assert stale_build(package) is None
    assert compiled_modules(package) == list(ENGINE_MODULES)


def test_a_source_touched_unchanged_keeps_the_build(tmp_path: Path) -> None:
    package = _package(tmp_path)
    for name in ENGINE_MODULES:  # as after `git checkout` or `git stash` back and forth
        _touch_later(package / f"{name}.py")
    assert stale_build(package) is None
    assert compiled_modules(package) == list(ENGINE_MODULES)


def test_a_changed_source_makes_the_whole_build_stale(tmp_path: Path) -> None:
    package = _package(tmp_path)
    with (package / "onset.py").open("a") as f:
        f.write("# edited\n")
    assert stale_build(package) == "pipeline/engine/onset.py changed since the engine was compiled"
    assert compiled_modules(package) == []


@pytest.mark.parametrize("damage", ["no record", "bad record", "no library"])
def test_a_build_that_cannot_be_vouched_for_is_stale(tmp_path: Path, damage: str) -> None:
    package = _package(tmp_path)
    if damage == "no record":
        (package / "engine_build.json").unlink()
    elif damage == "bad record":
        (package / "engine_build.json").write_text("{")
    else:
        (tmp_path / f"{GROUP}__mypyc{EXTENSION_SUFFIXES[0]}").unlink()
    assert stale_build(package) is not None
    assert compiled_modules(package) == []


def test_no_build_is_not_stale(tmp_path: Path) -> None:
    package = _package(tmp_path)
    for name in ENGINE_MODULES:
        (package / f"{name}{EXTENSION_SUFFIXES[0]}").unlink()
    assert stale_build(package) is None
    assert compiled_modules(package) == []


# Which file each engine module was loaded from, importing with warnings as errors.
PROBE = """
import importlib, pipeline.compiled
for name in pipeline.compiled.ENGINE_MODULES:
    print(importlib.import_module(f"pipeline.engine.{name}").__file__.rpartition(".")[2])
"""


def _run(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "MIRRORWATCH_DATA_DIR": str(checkout / "data"),
        "XDG_CONFIG_HOME": str(checkout / "config"),
    }
    return subprocess.run(
        [sys.executable, "-W", "error", *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


@pytest.fixture
def built_copy(tmp_path: Path) -> Path:
    """A copy of this checkout's compiled build, with its sources, to edit."""
    if len(compiled_modules()) != len(ENGINE_MODULES):
        pytest.skip("this checkout's engine is not compiled, or its build is stale")
    for package in ("pipeline", "sensors"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for library in ROOT.glob(f"{GROUP}__mypyc.*"):
        shutil.copy2(library, tmp_path)
    return tmp_path


def test_touched_sources_still_run_the_compiled_engine(built_copy: Path) -> None:
    for name in ENGINE_MODULES:
        _touch_later(built_copy / "pipeline" / "engine" / f"{name}.py")
    probe = _run(built_copy, "-c", PROBE)
    assert probe.stderr == ""
    assert set(probe.stdout.split()) == {"so"}
    demo = _run(built_copy, "-m", "pipeline.cli", "demo", "--duration", "20", "--speed", "max")
    assert demo.returncode == 0, demo.stderr
    assert "compiled" not in demo.stderr


def test_a_changed_source_runs_interpreted_and_the_cli_says_so_once(built_copy: Path) -> None:
    with (built_copy / "pipeline" / "engine" / "onset.py").open("a") as f:
        f.write("# edited after the build\n")
    probe = _run(built_copy, "-c", PROBE)
    assert probe.stderr == ""  # importing the library stays silent
    assert set(probe.stdout.split()) == {"py"}  # every engine module, not just onset
    demo = _run(built_copy, "-m", "pipeline.cli", "demo", "--duration", "20", "--speed", "max")
    assert demo.returncode == 0, demo.stderr
    assert "simulator truth" in demo.stdout
    told = [line for line in demo.stderr.splitlines() if "compiled" in line]
    assert told == [
        "mirrorwatch: pipeline/engine/onset.py changed since the engine was compiled: running it "
        "interpreted (2-3x slower) until it is rebuilt (`pip install -e .` in the checkout)"
    ]
