"""The monitoring report's week view: a subject's days across monitoring sessions.

For the seven calendar days (UTC) ending on the reported session's day, per hand:
movements per hour worn, the share of them with mirror activity of the other hand,
and the median mirror ratio of those, over every monitoring session of the subject.
Days are whole days on the data's own clock (a replayed recording's, not the day it
was replayed); a day without data stays empty rather than being left out, so the
axis runs over whole days with no jumps; every y axis starts at zero.
"""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from pipeline.engine.events import Kind
from pipeline.report.figures import COLOURS, png
from pipeline.report.html import image, num, pct, table
from pipeline.store.aggregates import Aggregates
from pipeline.store.sessions import SessionInfo
from pipeline.store.spool import Spool
from sensors.types import Side

WEEK_DAYS = 7


def origin(info: SessionInfo) -> float:
    """Unix time of the session's t = 0 on the data's own clock."""
    return float(info.meta.get("clock_origin", info.started_at))


def day_of(unix_s: float) -> datetime.date:
    return datetime.datetime.fromtimestamp(unix_s, datetime.UTC).date()


@dataclass(slots=True)
class HandDay:
    """One hand over one day: `worn_s` s worn, voluntary `onsets`, `mirror` of them,
    `ratios` of those mirror events."""

    worn_s: float = 0.0
    onsets: int = 0
    mirror: int = 0
    ratios: list[float] = field(default_factory=list)

    @property
    def per_hour(self) -> float | None:
        return self.onsets / (self.worn_s / 3600.0) if self.worn_s >= 60.0 else None

    @property
    def share(self) -> float | None:
        return self.mirror / self.onsets if self.onsets else None

    @property
    def median_ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None


@dataclass(frozen=True, slots=True)
class Day:
    day: datetime.date
    sessions: int
    hands: dict[Side, HandDay]


def monitoring_sessions(spool: Spool, subject: str) -> list[SessionInfo]:
    return [s for s in spool.sessions() if s.subject == subject and s.mode == "monitor"]


def week(spool: Spool, agg: Aggregates, info: SessionInfo) -> list[Day]:
    """The seven days ending on the day `info` started, oldest first."""
    last = day_of(origin(info))
    days = [last - datetime.timedelta(days=WEEK_DAYS - 1 - i) for i in range(WEEK_DAYS)]
    hands: dict[datetime.date, dict[Side, HandDay]] = defaultdict(
        lambda: {s: HandDay() for s in Side}
    )
    seen: dict[datetime.date, set[str]] = defaultdict(set)
    for s in monitoring_sessions(spool, info.subject):
        t0 = origin(s)
        for h in agg.hours(s.id):
            d = day_of(t0 + h.start)
            hand = hands[d][h.side]
            hand.worn_s += h.worn_s
            hand.onsets += h.onsets
            hand.mirror += h.mirror
            seen[d].add(s.id)
        for e in spool.events(s.id):
            if e.event.kind is Kind.MIRROR:
                hands[day_of(t0 + e.event.t_onset)][e.event.active].ratios.append(
                    e.event.mirror_ratio
                )
    return [Day(d, len(seen[d]), hands[d]) for d in days]


def week_section(spool: Spool, agg: Aggregates, info: SessionInfo) -> list[str]:
    """The week view's table and figure."""
    days = week(spool, agg, info)
    rows = []
    for d in days:
        cells: list[object] = [d.day.strftime("%a %d %b"), d.sessions or "-"]
        for side in Side:
            h = d.hands[side]
            cells += [
                f"{h.worn_s / 3600:.1f}" if h.worn_s else "-",
                num(h.per_hour, ".0f"),
                pct(h.share),
                num(h.median_ratio, ".2f"),
            ]
        rows.append(cells)
    side_head = ["worn h", "moves/h", "mirror", "med. ratio"]
    head = ["day (UTC)", "sessions", *[f"{s.value} {c}" for s in Side for c in side_head]]
    return [
        f"<h3>Week view: {days[0].day:%d %b} to {days[-1].day:%d %b %Y}, all monitoring "
        "sessions of this subject</h3>",
        table(head, rows, left=1),
        "<p><small>L/R: that hand moving. moves/h: its voluntary movements per hour worn; "
        "mirror: share of them with mirror activity of the other hand; med. ratio: median "
        "mirror ratio of those. '-': no data that day.</small></p>",
        image(png(week_figure(days)), "week view"),
    ]


def week_figure(days: Sequence[Day]) -> Figure:
    """Three panels over whole days, y from zero; a day without data is a gap."""
    fig = Figure(figsize=(10, 5.4))
    axes = fig.subplots(3, 1, sharex=True)
    x = np.arange(len(days))
    panels: tuple[tuple[str, Callable[[HandDay], float | None], float], ...] = (
        ("moves / h worn", lambda h: h.per_hour, 1.0),
        ("mirror share, %", lambda h: h.share, 100.0),
        ("median ratio", lambda h: h.median_ratio, 1.0),
    )
    for ax, (label, value, scale) in zip(axes, panels, strict=True):
        for side in Side:
            y = [value(d.hands[side]) for d in days]
            ys = np.array([np.nan if v is None else v * scale for v in y])
            ax.plot(x, ys, "o-", color=COLOURS[side], label=f"{side.value} hand moving")
        ax.set_ylabel(label, fontsize=8)
        ax.set_ylim(bottom=0)
        if not np.isfinite(ax.get_ylim()[1]) or ax.get_ylim()[1] <= 0:
            ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, ncol=2, loc="lower right", bbox_to_anchor=(1.0, 1.0))
    axes[-1].set_xticks(x, [d.day.strftime("%a %d %b") for d in days])
    axes[-1].set_xlim(-0.5, len(days) - 0.5)  # whole days
    fig.tight_layout()
    return fig
