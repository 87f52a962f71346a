"""One simulated firearm-handling assessment, run through the CLI, shared by these tests."""

from __future__ import annotations

import pytest
from workflow_run import SEED, Run, mirrorwatch


@pytest.fixture(scope="session")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Run:
    data = tmp_path_factory.mktemp("assess") / "data"
    r = mirrorwatch(
        data,
        "assess",
        "--protocol",
        "firearm-handling",
        "--subject",
        "demo",
        "--source",
        "simulated",
        "--speed",
        "max",
        "--yes",
        "--seed",
        str(SEED),
    )
    assert r.returncode == 0, r.stderr
    return Run(data, r.stdout, r.stderr)
