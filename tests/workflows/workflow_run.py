"""Running `mirrorwatch` as a user does, for the workflow tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SEED = 2  # of the simulated subject of the shared assessment


@dataclass(frozen=True)
class Run:
    data_dir: Path
    stdout: str
    stderr: str


def mirrorwatch(
    data_dir: Path, *args: str, timeout: float = 110
) -> subprocess.CompletedProcess[str]:
    """`mirrorwatch ARGS` as a user runs it, with its own data directory."""
    # the user's own mirrorwatch.toml (paired sensors...) stays out of the tests
    env = {
        **os.environ,
        "MIRRORWATCH_DATA_DIR": str(data_dir),
        "XDG_CONFIG_HOME": str(data_dir.parent / "config"),
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir.parent,
        timeout=timeout,
        check=False,
    )
