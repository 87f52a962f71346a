"""The assessment part of the report, written for the examiner.

The verdict comes first, one box per hand, exactly as verdict.py decided and worded
it (the terminal prints the same words and roundings). A colour is a hand (blue the
left, red the right) in every figure; figures about mirror activity use the colour
of the hand that mirrored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.engine.events import Kind
from pipeline.report.figures import COLOURS, grades_figure
from pipeline.report.html import esc, facts, image, num, pct, table
from pipeline.workflows.assessment.protocol import GRADE_SCALE_SOURCE
from pipeline.workflows.assessment.results import Assessment
from pipeline.workflows.assessment.scoring import DISCLAIMER, TaskScore
from pipeline.workflows.assessment.verdict import HAND_WORD, HandVerdict
from sensors.types import FloatArray, Side

GAP_S = 0.1  # s between two samples of a wrist beyond which samples are missing


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One stored link status of a live wrist (spool table `link`)."""

    side: Side
    t: float
    battery: float | None
    lost: int
    reconnects: int


def banners(source: str, a: Assessment) -> list[str]:
    """Say before anything else when the data are not a live person's, or incomplete."""
    out = []
    if source.startswith("simulated"):
        out.append(
            "<div class=banner>SIMULATED SESSION: a simulated subject, not a person's "
            "measurement.</div>"
        )
    elif source.startswith("replay"):
        out.append(
            f"<div class=banner>REPLAYED SESSION: the data come from the recording "
            f"{esc(source.removeprefix('replay:'))}, not from live sensors.</div>"
        )
    if not a.verdict.complete:
        out.append(
            "<div class='banner incomplete'>ASSESSMENT INCOMPLETE: the protocol did not "
            "run to its end, or a required task lacks data. See the verdicts and the task "
            "table.</div>"
        )
    return out


def verdict_sections(a: Assessment) -> list[str]:
    """Headline boxes, the limits with their sources, the colour key."""
    out = [f"<p class=note>{esc(DISCLAIMER)}</p>", "<h2>Verdict per hand</h2>"]
    out.append("<div class=boxes>" + "".join(_box(a.verdict.hands[s]) for s in Side) + "</div>")
    lim = a.limits
    out.append(
        f"<p>Reference limits, over each hand's one-handed tasks: mirror share at most "
        f"{lim.mirror_share:.0%}, median mirror ratio at most {lim.median_ratio:.2f}, "
        f"worst grade at most {lim.worst_grade}. Source of the limits: {esc(lim.source)}. "
        f"{esc(GRADE_SCALE_SOURCE[0].upper() + GRADE_SCALE_SOURCE[1:])}. A required task "
        f"counts only with at least {lim.data_floor:.0%} of the samples of each wrist.</p>"
    )
    key = " ".join(
        f"<span class=swatch style='background:{COLOURS[s]}'></span> {HAND_WORD[s]} hand"
        for s in Side
    )
    out.append(
        f"<p><small>Colours, in every figure: {key}. Figures of mirror activity show "
        "it in the colour of the hand that mirrored.</small></p>"
    )
    return out


def _box(h: HandVerdict) -> str:
    state = h.state.value.replace(" ", "-")
    rows = "".join(
        f"<tr><th class=l>{esc(c.label)}</th><td>{esc(c.shown)}</td>"
        f"<td class=l>{'&gt;' if c.exceeded else '&le;'} {esc(c.shown_limit)}"
        f"{' <span class=flag>exceeded</span>' if c.exceeded else ''}</td></tr>"
        for c in h.checks
    )
    reasons = f"<p>{esc('; '.join(h.reasons))}</p>" if h.reasons else ""
    return (
        f"<div class='box state-{state}' style='border-left-color:{COLOURS[h.mirror_hand]}'>"
        f"<div class=word>{esc(h.state.value.upper())}</div>"
        f"<div class=who>{esc(h.title[0].upper() + h.title[1:])} "
        f"({h.tasks_done} of {h.tasks_planned} tasks done, {h.stats.movements} movements)"
        f"</div>{reasons}<table>{rows}</table></div>"
    )


def task_table(a: Assessment) -> list[str]:
    """Every protocol task, in order, with each attempt; tasks never run are listed too."""
    out = ["<h2>Tasks</h2>"]
    rows: list[list[object]] = []
    muted: list[bool] = []
    for planned in a.plan:
        attempts = [s for s in a.tasks if s.window.name == planned.name]
        required = "yes" if planned.required else "no"
        if not attempts:
            rows.append([planned.name, planned.active.value, required, "NOT RUN", *["-"] * 10])
            muted.append(False)
        for s in attempts:
            w = s.window
            rows.append(
                [
                    w.name,
                    w.active.value,
                    required,
                    w.status.value,
                    f"{w.start:.0f}-{w.end:.0f}",
                    s.expected,
                    s.stats.movements,
                    s.stats.mirror,
                    pct(s.stats.mirror_share),
                    num(s.stats.median_ratio, ".2f"),
                    num(s.stats.grade_worst, "d"),
                    s.other,
                    pct(s.completeness[Side.L]),
                    pct(s.completeness[Side.R]),
                ]
            )
            muted.append(not s.scored)
    head = ["task", "hand", "required", "status", "time, s", "expected", "detected"]
    head += ["mirror", "share", "med. ratio", "worst", "other hand", "data L", "data R"]
    out.append(table(head, rows, left=4, muted=muted))
    out.append(
        "<p><small>hand: the hand asked to move; detected: its movements (both hands: "
        "any); share: of those with a decidable other hand, with mirror activity; ratio: "
        "mirroring hand's activity / moving hand's; worst: highest grade 0-4; other hand: "
        "movements of the hand not asked to move; data: share of expected samples "
        "received. Greyed attempts (repeated, paused, skipped, stopped) are not scored; "
        "NOT RUN tasks never started.</small></p>"
    )
    scored = [s for s in a.tasks if s.scored and s.stats.movements]
    if scored:
        out += [
            "<h3>Grade per task (colour: the hand that mirrored; dashed: the limit)</h3>",
            image(grades_figure(a.tasks, a.limits.worst_grade), "grade per task"),
        ]
    return out


def quality_section(
    a: Assessment, times: dict[Side, FloatArray], links: Sequence[LinkRecord], source: str
) -> list[str]:
    """Per task and wrist what the spool knows of the data: received share, longest gap,
    samples lost on the link, battery; then the sensors and the clock."""
    out = ["<h2>Data quality</h2>"]
    rows = []
    for s in a.tasks:
        cells: list[object] = [s.window.name, s.window.status.value]
        for side in Side:
            cells += [
                pct(s.completeness[side]),
                _longest_gap(times.get(side, np.zeros(0)), s),
                _lost(links, side, s),
                _battery(links, side, s),
            ]
        rows.append(cells)
    head = ["task", "status"]
    head += [f"{side.value} {c}" for side in Side for c in ("data", "gap s", "lost", "batt.")]
    out.append(table(head, rows, left=2))
    indet = sum(e.kind is Kind.INDETERMINATE for e in a.events)
    items: list[tuple[str, object]] = [
        ("sensors", _sensors(source)),
        ("clock", _clock(source, a.info.meta)),
        ("movements with too little data of the other hand", indet),
        ("engine grid", f"{a.fs:g} Hz"),
        ("data floor of a required task", f"{a.limits.data_floor:.0%} of each wrist"),
    ]
    out.append(facts(items))
    out.append(
        "<p><small>data: share of expected samples received; gap: longest stretch without "
        f"a sample (over {GAP_S:g} s); lost and battery: from the sensor link, when the "
        "source reports it (live wrists), '-' otherwise.</small></p>"
    )
    return out


def _longest_gap(t: FloatArray, s: TaskScore) -> str:
    w = s.window
    inside = t[(t >= w.start) & (t < w.end)]
    if w.end <= w.start:
        return "-"
    edges = np.concatenate(([w.start], inside, [w.end]))
    gap = float(np.diff(edges).max())
    return f"{gap:.1f}" if gap > GAP_S else "0"


def _in(links: Sequence[LinkRecord], side: Side, s: TaskScore) -> list[LinkRecord]:
    return [r for r in links if r.side is side and r.t < s.window.end]


def _lost(links: Sequence[LinkRecord], side: Side, s: TaskScore) -> str:
    upto = _in(links, side, s)
    if not upto:
        return "-"
    before = [r.lost for r in upto if r.t < s.window.start]
    return str(upto[-1].lost - (before[-1] if before else 0))  # the counter is cumulative


def _battery(links: Sequence[LinkRecord], side: Side, s: TaskScore) -> str:
    known = [r.battery for r in _in(links, side, s) if r.battery is not None]
    return "-" if not known else f"{known[-1]:.0f}%"


def _sensors(source: str) -> str:
    if source.startswith("ble:"):
        return source.removeprefix("ble:").replace(",", ", ")
    if source.startswith("simulated"):
        return "none: simulated wrists"
    return f"as recorded in {source.removeprefix('replay:')} (not known to MirrorWatch)"


def _clock(source: str, meta: dict[str, str]) -> str:
    if "clock_residual_ms" in meta:
        return (
            "each device's own timestamps, the right wrist then moved by the three-clap fit; "
            f"residual {float(meta['clock_residual_ms']):.1f} ms RMS over the claps, "
            "the same for every task"
        )
    if meta.get("clock_sync") == "timestamps":
        return "each device's own timestamps, not refined by claps: no residual measured"
    if source.startswith("ble:"):
        return (
            "sample times from each sensor's tick counter, fitted to the host clock; that "
            "fit computes no residual, so none is shown"
        )
    if source.startswith("simulated"):
        return "simulated: exact"
    return "the recording's own time column"
