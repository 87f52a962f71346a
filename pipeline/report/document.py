"""The HTML report of a stored session: `mirrorwatch report --session ID --out FILE`.

One self-contained file: session facts, the per-task (assessment) or per-hour
(monitoring) table, figures embedded as PNG, and a data-quality section.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.engine.events import Kind, MovementEvent
from pipeline.private_files import open_private, private_dir
from pipeline.report.figures import activity, activity_figure, distributions_figure, grades_figure
from pipeline.report.html import esc, facts, image, num, page, pct, table
from pipeline.report.monitoring import monitor_sections
from pipeline.report.summary import summarize
from pipeline.store.aggregates import Aggregates
from pipeline.store.sessions import SessionInfo
from pipeline.store.spool import Spool
from pipeline.workflows.assessment.results import Assessment, load_assessment
from pipeline.workflows.assessment.scoring import DISCLAIMER, Stats
from pipeline.workflows.assessment.timeline import Window
from sensors.types import FloatArray, Side


def write_report(spool: Spool, agg: Aggregates, info: SessionInfo, out: Path) -> Path:
    """Render the report of session `info` into `out` (directories created); returns `out`."""
    text = render_report(spool, agg, info)
    private_dir(out.parent)  # health data: the directories we create are 0700
    tmp = out.with_name(out.name + ".tmp")
    open_private(tmp)  # and the report 0600, whatever the umask
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)  # a reader never sees half a report
    return out


def render_report(spool: Spool, agg: Aggregates, info: SessionInfo) -> str:
    """The report of one session as an HTML document."""
    body = [f"<h1>MirrorWatch report: {esc(info.subject)}</h1>"]
    traces = _traces(spool, info)
    if info.mode == "assess":
        a = load_assessment(spool, agg, info)
        body += _session_facts(info, a.events, traces)
        body += _assessment(a, traces)
    elif info.mode == "monitor":
        events = [s.event for s in spool.events(info.id)]
        body += _session_facts(info, events, traces)
        body += monitor_sections(spool, agg, info, events)
        body += _figures(events, traces, ())
    else:
        events = [s.event for s in spool.events(info.id)]
        body += _session_facts(info, events, traces)
        body += _hands(events)
        body += _figures(events, traces, ())
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body.append(f"<p><small>Generated {generated} by MirrorWatch.</small></p>")
    return page(f"MirrorWatch {info.id}", body)


def _traces(spool: Spool, info: SessionInfo) -> dict[Side, tuple[FloatArray, FloatArray]]:
    out = {}
    for side in Side:
        block = spool.samples(info.id, side)
        if block is not None:
            out[side] = activity(block)
    return out


def _utc(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _session_facts(
    info: SessionInfo,
    events: list[MovementEvent],
    traces: dict[Side, tuple[FloatArray, FloatArray]],
) -> list[str]:
    items: list[tuple[str, object]] = [
        ("session", info.id),
        ("subject (pseudonym)", info.subject),
        ("workflow", info.mode),
        ("source", info.source),
        ("started", _utc(info.started_at)),
        ("ended", _utc(info.ended_at)),
    ]
    if "protocol" in info.meta:
        items.append(("protocol", f"{info.meta['protocol']} ({info.meta.get('origin', '')})"))
    if info.ended_at is not None:
        items.append(("wall-clock length", f"{(info.ended_at - info.started_at) / 60:.1f} min"))
    ends = [float(t[-1]) for t, _ in traces.values() if len(t)]
    if ends:
        items.append(("data length", f"{max(ends) / 60:.1f} min"))
    items.append(("movement events", len(events)))
    return ["<h2>Session</h2>", facts(items)]


def _assessment(a: Assessment, traces: dict[Side, tuple[FloatArray, FloatArray]]) -> list[str]:
    out = [f"<p class=note>{esc(DISCLAIMER)}</p>", "<h2>Summary per hand</h2>"]
    lim = a.limits
    out.append(
        f"<p>Reference limits, over each hand's one-handed tasks: mirror share at most "
        f"{lim.mirror_share:.0%}, median mirror ratio at most {lim.median_ratio:.2f}, "
        f"worst grade at most {lim.worst_grade}.</p>"
    )
    rows = []
    for side in Side:
        h = a.hands[side]
        verdict = "within the limits" if h.within else "; ".join(h.exceeded)
        rows.append([f"{side.value} hand active", *_stat_cells(h.stats), verdict])
    out.append(table(["", *_STAT_HEAD, "compared with the limits"], rows))
    out.append("<h2>Tasks</h2>")
    rows, muted = [], []
    for s in a.tasks:
        w = s.window
        status = w.status.value
        rows.append(
            [
                w.name,
                w.active.value,
                status,
                f"{w.start:.0f}-{w.end:.0f}",
                s.expected,
                *_stat_cells(s.stats),
                s.other,
                pct(s.completeness[Side.L]),
                pct(s.completeness[Side.R]),
            ]
        )
        muted.append(not s.scored)
    head = ["task", "hand", "status", "time, s", "expected", *_STAT_HEAD, "other hand"]
    out.append(table([*head, "data L", "data R"], rows, left=3, muted=muted))
    out.append(
        "<p><small>detected: movements of the asked hand (both hands: any); share: of "
        "those with a decidable other hand; ratio: other hand's activity / active hand's; "
        "lag: other hand's onset minus the active onset; grades 0-4 (0: no mirror "
        "activity); other hand: movements attributed to the hand not asked to move; "
        "data: share of expected samples received. Greyed attempts are not scored."
        "</small></p>"
    )
    scored = [s for s in a.tasks if s.scored and s.stats.movements]
    if scored:
        out += ["<h3>Grade per task</h3>", image(grades_figure(a.tasks), "grade per task")]
    out += _figures(a.events, traces, a.windows)
    out += _quality(a)
    return out


_STAT_HEAD = [
    "detected",
    "mirror",
    "share",
    "med. ratio",
    "max ratio",
    "med. lag ms",
    "med. grade",
    "worst",
]


def _stat_cells(s: Stats) -> list[object]:
    return [
        s.movements,
        s.mirror,
        pct(s.mirror_share),
        num(s.median_ratio, ".2f"),
        num(s.max_ratio, ".2f"),
        num(s.median_lag_ms, ".0f"),
        num(s.grade_median, ".1f"),
        num(s.grade_worst, "d"),
    ]


def _hands(events: list[MovementEvent]) -> list[str]:
    rows = []
    for side, s in summarize(events).items():
        rows.append(
            [
                f"{side.value} hand active",
                s.movements,
                s.kinds[Kind.MIRROR],
                pct(s.mirror_share),
                s.kinds[Kind.BIMANUAL],
                num(s.median_ratio, ".2f"),
                num(s.max_ratio, ".2f"),
                num(s.median_lag_ms, ".0f"),
            ]
        )
    head = ["", "movements", "mirror", "share", "bimanual", "med. ratio", "max", "med. lag ms"]
    return ["<h2>Movements per hand</h2>", table(head, rows)]


def _figures(
    events: list[MovementEvent],
    traces: dict[Side, tuple[FloatArray, FloatArray]],
    windows: Sequence[Window],
) -> list[str]:
    out = ["<h2>Activity of both wrists</h2>"]
    if traces:
        out.append(image(activity_figure(traces, events, windows), "activity of both wrists"))
    else:
        out.append("<p>Raw samples were not stored for this session: no activity figure.</p>")
    if any(e.kind is Kind.MIRROR for e in events):
        out += ["<h2>Mirror ratio and lag</h2>", image(distributions_figure(events), "ratios")]
    return out


def _quality(a: Assessment) -> list[str]:
    attempts = len(a.windows)
    scored = sum(s.scored for s in a.tasks)
    indet = sum(e.kind is Kind.INDETERMINATE for e in a.events)
    low = [
        f"{s.window.name} ({side.value} {s.completeness[side]:.0%})"
        for s in a.tasks
        if s.scored
        for side in Side
        if s.completeness[side] < 0.95
    ]
    items: list[tuple[str, object]] = [
        ("task attempts / scored", f"{attempts} / {scored}"),
        ("movements with too little data of the other hand", indet),
        ("tasks with under 95% of the samples", ", ".join(low) or "none"),
        ("engine grid", f"{a.fs:g} Hz"),
    ]
    return ["<h2>Data quality</h2>", facts(items)]
