"""Figures of the HTML report, drawn by matplotlib (Agg) and returned as PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: figures are rendered to PNG only

import matplotlib.text
import numpy as np
from matplotlib.backend_bases import RendererBase
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipeline.engine.events import Kind, MovementEvent
from pipeline.store.aggregates import HourRow
from pipeline.workflows.assessment.scoring import TaskScore
from pipeline.workflows.assessment.timeline import Window
from sensors.types import STANDARD_GRAVITY, FloatArray, ImuBlock, Side

COLOURS = {Side.L: "#1f77b4", Side.R: "#d62728"}
_SEGMENT = 120.0  # s of session per row of the activity figure
_QUIET_TOP = 0.5  # rad/s, the least full scale of a row
_MAX_ROWS = 12  # longer sessions get longer rows, so the figure stays a page
_BIN = 0.05  # s per plotted point: the maximum in each bin keeps every peak visible
_SMOOTH = 0.05  # s, moving average of the angular speed


def activity(block: ImuBlock) -> tuple[FloatArray, FloatArray]:
    """Angular speed (rad/s) of one wrist, binned to `_BIN` s: (bin times, bin maxima).

    The gyro's bias is its per-axis median (the wrist rests most of the time). An
    accelerometer-only wrist gives |d(acc)/dt| / g, which reads roughly in rad/s when
    the wrist turns gravity.
    """
    t = block.t
    if len(t) < 3:
        return np.zeros(0), np.zeros(0)
    fs = (len(t) - 1) / float(t[-1] - t[0])
    if block.gyr is not None:
        speed = np.linalg.norm(block.gyr - np.median(block.gyr, axis=0), axis=1)
    else:
        speed = np.linalg.norm(np.gradient(block.acc, t, axis=0), axis=1) / STANDARD_GRAVITY
    k = max(1, round(_SMOOTH * fs))
    speed = np.convolve(speed, np.ones(k) / k, mode="same")
    bins = np.floor((t - t[0]) / _BIN).astype(np.int64)
    n = int(bins[-1]) + 1
    peak = np.zeros(n)
    np.maximum.at(peak, bins, speed)
    filled = np.zeros(n, dtype=bool)
    filled[bins] = True
    centres = t[0] + (np.arange(n) + 0.5) * _BIN
    return centres[filled], peak[filled]


def activity_figure(
    traces: dict[Side, tuple[FloatArray, FloatArray]],
    events: Sequence[MovementEvent],
    windows: Sequence[Window] = (),
) -> bytes:
    """`activity_plot` as PNG."""
    return _png(activity_plot(traces, events, windows))


def activity_plot(
    traces: dict[Side, tuple[FloatArray, FloatArray]],
    events: Sequence[MovementEvent],
    windows: Sequence[Window] = (),
) -> Figure:
    """Both wrists' angular speed in rows of `_SEGMENT` s (longer for long sessions);
    onsets and mirror events marked.

    Each voluntary onset is a line in its hand's colour; a mirror event puts a
    triangle on the other hand's trace, at the onset plus the lag, labelled with
    the grade. Task windows are shaded and named.
    """
    ends = [float(t[-1]) for t, _ in traces.values() if len(t)]
    span = max(ends, default=1.0)
    rows = min(_MAX_ROWS, max(1, math.ceil(span / _SEGMENT)))
    segment = max(_SEGMENT, span / rows)
    fig = Figure(figsize=(11, 1.9 * rows + 0.6))
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    for i, ax in enumerate(axes):
        lo, hi = i * segment, (i + 1) * segment
        # each row scaled to its own peak: small finger movements stay visible
        shown = [v[(t >= lo) & (t < hi)] for t, v in traces.values()]
        # at least _QUIET_TOP: a row of rest shows as rest, not as magnified noise
        top = max([_QUIET_TOP, *(float(v.max()) for v in shown if len(v))])
        for w in windows:
            if w.end > lo and w.start < hi:
                ax.axvspan(max(w.start, lo), min(w.end, hi), color="#eeeeee", zorder=0)
                if w.start > hi - 0.1 * segment and w.end > hi:
                    continue  # named on the next row, where most of it is
                right = w.start > hi - 0.1 * segment  # a short window at the row's end
                x = min(w.end, hi) if right else max(w.start, lo)
                ha = "right" if right else "left"
                ax.text(x, top * 1.02, w.name, fontsize=7, va="bottom", ha=ha)
        for side, (t, v) in traces.items():
            sel = (t >= lo) & (t < hi)
            ax.plot(t[sel], v[sel], lw=0.7, color=COLOURS[side], label=f"{side.value} wrist")
        for e in events:
            if not lo <= e.t_onset < hi:
                continue
            ax.axvline(e.t_onset, color=COLOURS[e.active], lw=0.6, alpha=0.6)
            if e.kind is Kind.MIRROR:
                at = e.t_onset + (e.lag_ms or 0.0) / 1000.0
                ax.plot(at, top * 0.9, "v", color=COLOURS[e.active.other], ms=6)
                ax.text(at, top * 0.75, str(e.grade), fontsize=7, ha="center")
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, top * 1.15)
        ax.set_ylabel("rad/s", fontsize=8)
        ax.tick_params(labelsize=7)
    # above the first row, where no task name or mark is drawn
    axes[0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, ncol=2)
    axes[-1].set_xlabel("session time, s (triangle: mirror activity of that hand, with grade)")
    fig.tight_layout()
    return fig


def distributions_figure(
    events: Sequence[MovementEvent], ratio_limit: float | None = None
) -> bytes:
    """Histograms of mirror ratio and lag over mirror events, in the mirroring hand's colour."""
    return _png(distributions(events, ratio_limit))


def distributions(events: Sequence[MovementEvent], ratio_limit: float | None = None) -> Figure:
    """The figure of `distributions_figure`; the ratio limit, if given, as a dashed line."""
    fig = Figure(figsize=(10, 3.2))
    ax_r, ax_l = fig.subplots(1, 2)
    for side in Side:
        # the hand that mirrored, in its own colour: the same colour means the same hand
        mirrors = [e for e in events if e.kind is Kind.MIRROR and e.active is side.other]
        label = f"{side.value} hand mirroring ({len(mirrors)})"
        ax_r.hist(
            [e.mirror_ratio for e in mirrors],
            bins=np.linspace(0, 1, 21),
            alpha=0.6,
            color=COLOURS[side],
            label=label,
        )
        lags = [e.lag_ms for e in mirrors if e.lag_ms is not None]
        ax_l.hist(
            lags, bins=np.linspace(-250, 250, 21), alpha=0.6, color=COLOURS[side], label=label
        )
    if ratio_limit is not None:
        ax_r.axvline(ratio_limit, color="black", ls="--", lw=1, label=f"limit {ratio_limit:.2f}")
    ax_r.set_xlim(0, 1)  # the bins' range: no tick spills towards the next panel
    ax_l.set_xlim(-250, 250)
    ax_r.set_xlabel("mirror ratio (mirroring hand / moving hand)")
    ax_l.set_xlabel("lag of the mirroring hand, ms")
    for ax in (ax_r, ax_l):
        ax.set_ylabel("mirror events")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def grades_figure(tasks: Sequence[TaskScore], worst_limit: int | None = None) -> bytes:
    """Median and worst grade per completed one-handed task."""
    return _png(grades(tasks, worst_limit))


def grades(tasks: Sequence[TaskScore], worst_limit: int | None = None) -> Figure:
    """The figure of `grades_figure`: bars in the colour of the hand that mirrored (the
    other hand than the task's; grey for two-handed tasks), the limit a dashed line."""
    scored = [s for s in tasks if s.scored and s.stats.movements]
    fig = Figure(figsize=(10, 3.4))
    ax = fig.subplots()
    x = np.arange(len(scored))
    med = [s.stats.grade_median or 0.0 for s in scored]
    worst = [s.stats.grade_worst or 0 for s in scored]
    colours = [
        "#777777" if (side := s.window.active.side) is None else COLOURS[side.other] for s in scored
    ]
    ax.bar(x, worst, color="#dddddd", label="worst")
    ax.bar(x, med, width=0.5, color=colours, label="median")
    if worst_limit is not None:
        ax.axhline(worst_limit, color="black", ls="--", lw=1, label=f"limit {worst_limit}")
    ax.set_xticks(x, [s.window.name for s in scored], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 4.2)
    ax.set_ylabel("grade (0-4)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def hourly_figure(hours: Sequence[HourRow]) -> bytes:
    """Mirror events per 100 onsets and wear time, per hour and hand."""
    fig = Figure(figsize=(10, 4.2))
    ax_m, ax_w = fig.subplots(2, 1, sharex=True)
    for side in Side:
        rows = [h for h in hours if h.side is side]
        x = np.array([h.hour for h in rows], dtype=float)
        rate = np.array([np.nan if (v := h.mirror_per_100) is None else v for h in rows])
        ax_m.plot(x, rate, "o-", color=COLOURS[side], label=f"{side.value} active")
        off = -0.2 if side is Side.L else 0.2
        ax_w.bar(
            x + off,
            [h.worn_s / 60 for h in rows],
            width=0.4,
            color=COLOURS[side],
            label=f"{side.value} wrist",
        )
    ax_m.set_ylabel("mirror / 100 onsets")
    ax_w.set_ylabel("worn, min")
    ax_w.set_xlabel("hour of the session")
    # whole hours from the first, counts from zero: no fractional or negative hours
    last = max((h.hour for h in hours), default=0)
    ax_w.set_xlim(-0.5, last + 0.5)
    ax_w.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_m.set_ylim(bottom=0)
    ax_w.set_ylim(0, 62)
    ax_m.legend(fontsize=8)
    ax_w.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def daily_figure(days: Sequence[tuple[str, dict[Side, float | None]]]) -> bytes:
    """Daily mirror rate per hand over the subject's monitoring days."""
    fig = Figure(figsize=(10, 2.8))
    ax = fig.subplots()
    x = np.arange(len(days))
    for side in Side:
        y = np.array([np.nan if (v := d[1][side]) is None else v for d in days])
        ax.plot(x, y, "o-", color=COLOURS[side], label=f"{side.value} active")
    ax.set_xticks(x, [d[0] for d in days], fontsize=8)
    ax.set_xlim(-0.5, len(days) - 0.5)  # whole days only
    ax.set_ylim(bottom=0)
    ax.set_ylabel("mirror / 100 onsets")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of `fig` whose drawn boxes intersect.

    For tests and for the report's own check: a label drawn over another is unreadable.
    """
    renderer = _renderer(fig)
    hidden = set()  # tick labels outside the view: kept by matplotlib, never drawn
    for ax in fig.axes:
        for labels, (lo, hi), i in (
            (ax.get_xticklabels(), sorted(ax.get_xlim()), 0),
            (ax.get_yticklabels(), sorted(ax.get_ylim()), 1),
        ):
            span = 1e-9 * (hi - lo)
            hidden |= {id(t) for t in labels if not lo - span <= t.get_position()[i] <= hi + span}
    boxes = []
    for text in fig.findobj(matplotlib.text.Text):
        if id(text) in hidden or not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        if box.width > 0 and box.height > 0:
            boxes.append((text.get_text(), box))
    return [
        (a, b)
        for i, (a, box_a) in enumerate(boxes)
        for b, box_b in boxes[i + 1 :]
        if box_a.overlaps(box_b)
    ]


def _renderer(fig: Figure) -> RendererBase:
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

    canvas = FigureCanvasAgg(fig)
    renderer: RendererAgg = canvas.get_renderer()  # type: ignore[no-untyped-call]
    fig.draw(renderer)
    return renderer


def png(fig: Figure) -> bytes:
    """A figure as PNG, at the report's resolution (for figures drawn elsewhere)."""
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()
