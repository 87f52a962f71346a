"""The assessment report as a person sees it: rendered by headless Chromium, at a
desktop and a phone width, and its figures free of text drawn over text.

The screenshots are kept as artifacts/report-<width>.png (not in git); docs/ holds a
copy of each, taken from this test.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from matplotlib.figure import Figure
from workflow_run import Run

from pipeline.report.figures import (
    activity,
    activity_plot,
    distributions,
    grades,
    overlapping_texts,
)
from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool
from pipeline.workflows.assessment.results import load_assessment
from sensors.types import Side

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
@pytest.mark.parametrize(("width", "height"), [(1200, 1600), (390, 1600)])
def test_report_renders_with_content_and_no_console_errors(
    assessed: Run, tmp_path: Path, width: int, height: int
) -> None:
    report = Path(assessed.stdout.strip().splitlines()[-1].removeprefix("report "))
    shot = tmp_path / "first-page.png"
    r = subprocess.run(
        [
            "chromium",
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={width},{height}",
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
    shutil.copyfile(shot, ARTIFACTS / f"report-{width}.png")
    pixels = image.imread(str(shot))[:, :, :3]
    assert pixels.shape[:2] == (height, width)
    ink = np.asarray((pixels < 0.9).any(axis=2), dtype=bool)
    assert 0.02 < ink.mean() < 0.6  # text, tables and a figure; not blank, not a solid fill
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # the coloured figure rendered, not only black text
    # content spreads down the page: the top and the bottom halves both carry ink
    assert ink[:800].mean() > 0.01
    assert ink[800:].mean() > 0.01
    # the verdict is the first thing under the banner: its coloured word in the top third
    red = (pixels[:, :, 0] > 0.6) & (pixels[:, :, 1] < 0.2) & (pixels[:, :, 2] < 0.3)
    assert red[: height // 3].sum() > 50


def test_no_figure_draws_text_over_text(assessed: Run) -> None:
    with Spool.in_dir(assessed.data_dir) as spool:
        a = load_assessment(spool, Aggregates(spool), spool.session("latest"))
        traces = {s: activity(b) for s in Side if (b := spool.samples(a.info.id, s)) is not None}
    drawn = {
        "grades": grades(a.tasks, a.limits.worst_grade),
        "distributions": distributions(a.events, a.limits.median_ratio),
        "activity": activity_plot(traces, a.events, a.windows),
    }
    for name, fig in drawn.items():
        assert overlapping_texts(fig) == [], name


def test_the_overlap_check_finds_overlapping_text() -> None:
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.text(0.5, 0.5, "trigger-R")
    ax.text(0.52, 0.5, "grip-L")
    ax.set_xlim(-250, 250)  # ticks kept outside the view are not drawn: not reported
    assert overlapping_texts(fig) == [("trigger-R", "grip-L")]
