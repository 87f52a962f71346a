"""Running `mirrorwatch` as a user does, for the fault tests: a real process each time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def command(data_dir: Path, *args: str) -> list[str]:
    """The command line of `mirrorwatch --data-dir DATA_DIR ARGS`."""
    return [sys.executable, "-m", "pipeline.cli", "--data-dir", str(data_dir), *args]


def environment(home: Path) -> dict[str, str]:
    """The user's own config (paired sensors, a server) stays out of the tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIRRORWATCH_")}
    return {**env, "XDG_CONFIG_HOME": str(home / "config")}


def mirrorwatch(
    home: Path, data_dir: Path, *args: str, timeout: float = 100
) -> subprocess.CompletedProcess[str]:
    """Run to the end (at most `timeout` s); `home` is the working directory (no
    mirrorwatch.toml in it)."""
    return subprocess.run(
        command(data_dir, *args),
        capture_output=True,
        text=True,
        env=environment(home),
        cwd=home,
        timeout=timeout,
        check=False,
    )
