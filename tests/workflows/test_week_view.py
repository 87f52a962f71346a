"""The monitoring report's week view, over simulated home sessions on different days.

Three simulated stretches of a home day are recorded with their own start dates (two
days apart) and monitored one after the other into one spool, as a subject's wrists
would be on three evenings; the report of the last must show the seven days ending
that day, the three days with data and the empty ones between.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from workflow_run import mirrorwatch

from pipeline.report.figures import overlapping_texts
from pipeline.report.week import week, week_figure
from pipeline.store.aggregates import Aggregates
from pipeline.store.spool import Spool
from sensors.types import Side

LAST = datetime.date(2026, 11, 26)
DAYS = [LAST - datetime.timedelta(days=d) for d in (4, 2, 0)]


def _recording(tmp_path: Path, day: datetime.date, seed: int) -> Path:
    """A simulated home stretch, its `start` metadata moved to 18:00 UTC of `day`."""
    path = tmp_path / f"home-{day}.csv"
    r = mirrorwatch(
        tmp_path / "rec-data", "record", "--scenario", "home-day", "--duration", "600",
        "--fs", "50", "--seed", str(seed), "--out", str(path),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^# start: .*$", f"# start: {day}T18:00:00.000Z", text)
    assert n == 1
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The data directory after three monitored days, and the last session's report."""
    tmp_path = tmp_path_factory.mktemp("week")
    data = tmp_path / "data"
    report = Path()
    for seed, day in enumerate(DAYS, start=1):
        source = _recording(tmp_path, day, seed)
        r = mirrorwatch(
            data, "monitor", "--subject", "P05", "--source", str(source), "--speed", "max"
        )
        assert r.returncode == 0, r.stderr
        report = Path(r.stdout.strip().splitlines()[-1].removeprefix("report "))
    return data, report


def test_the_week_runs_over_whole_days_with_the_sessions_on_their_own_days(
    monitored: tuple[Path, Path],
) -> None:
    data, _ = monitored
    with Spool.in_dir(data) as spool:
        agg = Aggregates(spool)
        info = spool.session("latest")
        days = week(spool, agg, info)
        hours = {s.id: agg.hours(s.id) for s in spool.sessions()}
        events = {s.id: spool.events(s.id) for s in spool.sessions()}
    assert [d.day for d in days] == [LAST - datetime.timedelta(days=6 - i) for i in range(7)]
    assert [d.sessions for d in days] == [1 if d.day in DAYS else 0 for d in days]
    # every onset and mirror event of the three sessions lands on its day, none lost
    for side in Side:
        onsets = sum(h.onsets for rows in hours.values() for h in rows if h.side is side)
        assert sum(d.hands[side].onsets for d in days) == onsets > 0
        mirror = sum(
            e.event.kind.value == "mirror" and e.event.active is side
            for stored in events.values()
            for e in stored
        )
        assert sum(len(d.hands[side].ratios) for d in days) == mirror
    for d in days:
        for h in d.hands.values():
            if d.day in DAYS:
                assert h.worn_s == pytest.approx(600.0, abs=1.0)
                assert h.per_hour == pytest.approx(h.onsets / (h.worn_s / 3600))
            else:
                assert (h.worn_s, h.onsets, h.per_hour, h.share) == (0.0, 0, None, None)


def test_the_week_figure_starts_at_zero_on_whole_days_and_keeps_text_apart(
    monitored: tuple[Path, Path],
) -> None:
    data, _ = monitored
    with Spool.in_dir(data) as spool:
        days = week(spool, Aggregates(spool), spool.session("latest"))
    fig = week_figure(days)
    for ax in fig.axes:
        assert ax.get_ylim()[0] == 0
        assert ax.get_xlim() == (-0.5, 6.5)
    labels = [t.get_text() for t in fig.axes[-1].get_xticklabels()]
    assert labels == [d.day.strftime("%a %d %b") for d in days]
    assert overlapping_texts(fig) == []


def test_the_report_shows_the_week_with_empty_days(monitored: tuple[Path, Path]) -> None:
    _, report = monitored
    text = report.read_text(encoding="utf-8")
    assert "Week view: 20 Nov to 26 Nov 2026" in text
    assert "Daily trend" not in text  # the week view replaces it for several sessions
    for day in DAYS:
        assert day.strftime("%a %d %b") in text
    # 18:00 UTC of the recording's own day, not the day it was replayed
    assert "<td class=l>18:00</td>" in text
