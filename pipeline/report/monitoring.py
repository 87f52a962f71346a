"""The monitoring part of the report: hourly table and trend, daily trend, warnings."""

from __future__ import annotations

import time
from collections import defaultdict

from pipeline.engine.events import Kind, MovementEvent
from pipeline.report.figures import daily_figure, hourly_figure
from pipeline.report.html import facts, image, num, table
from pipeline.report.week import monitoring_sessions, origin, week_section
from pipeline.store.aggregates import Aggregates, HourRow
from pipeline.store.sessions import SessionInfo
from pipeline.store.spool import Spool
from pipeline.workflows.monitoring import SIDE_NOTE
from sensors.types import Side


def monitor_sections(
    spool: Spool, agg: Aggregates, info: SessionInfo, events: list[MovementEvent]
) -> list[str]:
    """Per-hour table and figure, the subject's daily trend, warnings and data quality."""
    hours = agg.hours(info.id)
    out = ["<h2>Hours</h2>"]
    if not hours:
        return [*out, "<p>No hourly aggregates were stored for this session.</p>"]
    by_hour: dict[int, dict[Side, HourRow]] = defaultdict(dict)
    for h in hours:
        by_hour[h.hour][h.side] = h
    rows = []
    for hour, sides in sorted(by_hour.items()):
        start = origin(info) + next(iter(sides.values())).start
        cells: list[object] = [hour, time.strftime("%H:%M", time.gmtime(start))]
        for side in Side:
            row = sides.get(side)
            if row is None:
                cells += ["-"] * 5
                continue
            cells += [
                row.onsets,
                row.mirror,
                num(row.mirror_per_100, ".0f"),
                f"{row.worn_s / 60:.0f}",
                f"{row.valid_s / max(row.seconds, 1e-9):.0%}",
            ]
        rows.append(cells)
    side_head = ["onsets", "mirror", "per 100", "worn min", "data"]
    head = ["hour", "UTC", *[f"{s.value} {c}" for s in Side for c in side_head]]
    out.append(table(head, rows, left=2))
    out.append(
        "<p><small>L/R: that hand's voluntary movements (onsets), those with mirror "
        "activity of the other hand, mirror events per 100 onsets, minutes the wrist was "
        "worn, share of the hour with data.</small></p>"
    )
    out += ["<h3>Hourly trend</h3>", image(hourly_figure(hours), "hourly mirror rate")]
    if len(monitoring_sessions(spool, info.subject)) > 1:
        out += week_section(spool, agg, info)
    else:
        days = daily_rates(spool, agg, info.subject)
        out += ["<h3>Daily trend (all monitoring sessions of this subject)</h3>"]
        out.append(image(daily_figure(days), "daily mirror rate"))
    out += _warnings(agg, info)
    out += _quality(hours, events)
    return out


def daily_rates(
    spool: Spool, agg: Aggregates, subject: str
) -> list[tuple[str, dict[Side, float | None]]]:
    """Mirror events per 100 onsets per UTC day and hand, over the subject's monitoring."""
    onsets: dict[str, dict[Side, int]] = defaultdict(lambda: {Side.L: 0, Side.R: 0})
    mirror: dict[str, dict[Side, int]] = defaultdict(lambda: {Side.L: 0, Side.R: 0})
    for s in spool.sessions():
        if s.subject != subject or s.mode != "monitor":
            continue
        for h in agg.hours(s.id):
            day = time.strftime("%Y-%m-%d", time.gmtime(origin(s) + h.start))
            onsets[day][h.side] += h.onsets
            mirror[day][h.side] += h.mirror
    return [
        (
            day,
            {
                side: 100.0 * mirror[day][side] / n if (n := onsets[day][side]) else None
                for side in Side
            },
        )
        for day in sorted(onsets)
    ]


_SIDE_WORDS = {
    "expected": "on the expected wrists (the swapped-wrist check decided)",
    "swapped": "SWAPPED: the left sensor seems to be on the right wrist (see the warnings)",
    "undecided": "UNDECIDED: too little movement for the swapped-wrist check to decide",
}


def _warnings(agg: Aggregates, info: SessionInfo) -> list[str]:
    """Wear and side statements that say what was decided, and "undecided" when not."""
    warnings = agg.warnings(info.id)
    side = agg.note(info.id, SIDE_NOTE)
    nonwear = any(w.kind == "non-wear" for w in warnings)
    out = ["<h2>Wear and sides</h2>"]
    items: list[tuple[str, object]] = [
        ("wear", "non-wear found (see the warnings)" if nonwear else "worn throughout"),
        ("sides", _SIDE_WORDS.get(side or "", "not recorded for this session")),
    ]
    out.append(facts(items))
    out.append("<h3>Warnings</h3>")
    if not warnings:
        return [*out, "<p>None raised.</p>"]
    rows = [
        [f"{w.t / 3600:.2f} h", "-" if w.side is None else w.side.value, w.kind, w.message]
        for w in warnings
    ]
    return [*out, table(["at", "wrist", "kind", "message"], rows, left=4)]


def _quality(hours: list[HourRow], events: list[MovementEvent]) -> list[str]:
    items: list[tuple[str, object]] = []
    for side in Side:
        rows = [h for h in hours if h.side is side]
        total = sum(h.seconds for h in rows)
        worn = sum(h.worn_s for h in rows)
        valid = sum(h.valid_s for h in rows)
        share = valid / total if total else 0.0
        text = f"worn {worn / 3600:.1f} h of {total / 3600:.1f} h; data {share:.0%}"
        items.append((f"{side.value} wrist", text))
    indet = sum(e.kind is Kind.INDETERMINATE for e in events)
    items.append(("movements with too little data of the other hand", indet))
    return ["<h2>Data quality</h2>", facts(items)]
