"""The assessment report as a person sees it: rendered by headless Chromium.

The screenshot of the first page is kept as artifacts/report-first-page.png (not in git).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from workflow_run import Run

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# Without these, headless Chromium waits on the network and services a closed machine lacks.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)


@pytest.mark.requires_program("chromium", "chromium")
def test_report_renders_with_content_and_no_console_errors(assessed: Run, tmp_path: Path) -> None:
    report = Path(assessed.stdout.strip().splitlines()[-1].removeprefix("report "))
    shot = tmp_path / "first-page.png"
    r = subprocess.run(
        [
            "chromium",
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    # the page has no script: any console message (a failed load, an error) is a fault
    console = [line for line in r.stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]
    assert console == []
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "report-first-page.png")
    pixels = image.imread(str(shot))[:, :, :3]
    assert pixels.shape[:2] == (1600, 1200)
    ink = (pixels < 0.9).any(axis=2)
    assert 0.02 < ink.mean() < 0.6  # text, tables and a figure; not blank, not a solid fill
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # the coloured figure rendered, not only black text
    # content spreads down the page: the top and the bottom halves both carry ink
    assert ink[:800].mean() > 0.01
    assert ink[800:].mean() > 0.01
