"""The HTML report of a stored session: `mirrorwatch report --session ID --out FILE`.

One self-contained file: session facts, the per-task (assessment) or per-hour
(monitoring) table, figures embedded as PNG, and a data-quality section.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.engine.events import Kind, MovementEvent
from pipeline.private_files import open_private, private_dir
from pipeline.report.assessment import (
    LinkRecord,
    banners,
    quality_section,
    task_table,
    verdict_sections,
)
from pipeline.report.figures import activity, activity_figure, distributions_figure
from pipeline.report.html import esc, facts, image, num, page, pct, table
from pipeline.report.monitoring import monitor_sections
from pipeline.report.summary import summarize
from pipeline.store.aggregates import Aggregates
from pipeline.store.sessions import SessionInfo
from pipeline.store.spool import Spool
from pipeline.workflows.assessment.results import Assessment, load_assessment
from pipeline.workflows.assessment.timeline import Window
from sensors.types import FloatArray, Side


def write_report(spool: Spool, agg: Aggregates, info: SessionInfo, out: Path) -> Path:
    """Render the report of session `info` into `out` (directories created); returns `out`."""
    text = render_report(spool, agg, info)
    private_dir(out.parent)  # health data: the directories we create are 0700
    tmp = out.with_name(out.name + ".tmp")
    try:
        open_private(tmp)  # and the report 0600, whatever the umask
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)  # a reader never sees half a report
    except OSError:
        with contextlib.suppress(OSError):  # half a report must not hold a full disk's room
            tmp.unlink(missing_ok=True)
        raise
    return out


def render_report(spool: Spool, agg: Aggregates, info: SessionInfo) -> str:
    """The report of one session as an HTML document."""
    body = [f"<h1>MirrorWatch report: {esc(info.subject)}</h1>"]
    traces = _traces(spool, info)
    if info.mode == "assess":
        a = load_assessment(spool, agg, info)
        body += banners(info.source, a)
        body += verdict_sections(a)
        body += _session_facts(info, a.events, traces)
        body += _assessment(spool, a, traces)
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


def _assessment(
    spool: Spool, a: Assessment, traces: dict[Side, tuple[FloatArray, FloatArray]]
) -> list[str]:
    times: dict[Side, FloatArray] = {}
    for side in Side:
        block = spool.samples(a.info.id, side)
        if block is not None:
            times[side] = block.t
    links = [
        LinkRecord(Side(side), t, battery, lost, reconnects)
        for side, t, battery, lost, reconnects in spool.query(
            "SELECT side, t, battery, lost, reconnects FROM link WHERE session_id = ? ORDER BY t",
            (a.info.id,),
        )
    ]
    out = task_table(a)
    out += _figures(a.events, traces, a.windows, a.limits.median_ratio)
    out += quality_section(a, times, links, a.info.source)
    return out


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
    ratio_limit: float | None = None,
) -> list[str]:
    out = ["<h2>Activity of both wrists</h2>"]
    if traces:
        out.append(image(activity_figure(traces, events, windows), "activity of both wrists"))
    else:
        out.append("<p>Raw samples were not stored for this session: no activity figure.</p>")
    if any(e.kind is Kind.MIRROR for e in events):
        title = "Mirror ratio and lag (colour: the hand that mirrored"
        title += "; dashed: the ratio limit)" if ratio_limit is not None else ")"
        png = distributions_figure(events, ratio_limit)
        out += [f"<h2>{title}</h2>", image(png, "ratios")]
    return out
