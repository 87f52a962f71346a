"""Figures of the HTML report, drawn by matplotlib (Agg) and returned as PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: figures are rendered to PNG only

import numpy as np
from matplotlib.figure import Figure

from pipeline.engine.events import Kind, MovementEvent
from pipeline.store.aggregates import HourRow
from pipeline.workflows.assessment.scoring import TaskScore
from pipeline.workflows.assessment.timeline import Window
from sensors.types import FloatArray, ImuBlock, Side

COLOURS = {Side.L: "#1f77b4", Side.R: "#d62728"}
_SEGMENT = 120.0  # s of session per row of the activity figure
_QUIET_TOP = 0.5  # rad/s, the least full scale of a row
_MAX_ROWS = 12  # longer sessions get longer rows, so the figure stays a page
_BIN = 0.05  # s per plotted point: the maximum in each bin keeps every peak visible
_SMOOTH = 0.05  # s, moving average of the angular speed
_G = 9.80665  # m/s^2


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
        speed = np.linalg.norm(np.gradient(block.acc, t, axis=0), axis=1) / _G
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
                ax.text(max(w.start, lo), top * 1.02, w.name, fontsize=7, va="bottom")
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
    axes[0].legend(loc="upper right", fontsize=7, ncol=2)
    axes[-1].set_xlabel("session time, s (triangle: mirror activity of that hand, with grade)")
    fig.tight_layout()
    return _png(fig)


def distributions_figure(events: Sequence[MovementEvent]) -> bytes:
    """Histograms of mirror ratio and lag, per active hand, over mirror events."""
    fig = Figure(figsize=(10, 3))
    ax_r, ax_l = fig.subplots(1, 2)
    for side in Side:
        mirrors = [e for e in events if e.kind is Kind.MIRROR and e.active is side]
        label = f"{side.value} active ({len(mirrors)})"
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
    ax_r.set_xlabel("mirror ratio (other hand / active hand)")
    ax_l.set_xlabel("lag of the other hand, ms")
    for ax in (ax_r, ax_l):
        ax.set_ylabel("mirror events")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def grades_figure(tasks: Sequence[TaskScore]) -> bytes:
    """Median and worst grade per completed task."""
    scored = [s for s in tasks if s.scored and s.stats.movements]
    fig = Figure(figsize=(10, 3))
    ax = fig.subplots()
    x = np.arange(len(scored))
    med = [s.stats.grade_median or 0.0 for s in scored]
    worst = [s.stats.grade_worst or 0 for s in scored]
    colours = [COLOURS.get(s.window.active.side or Side.L, "#777777") for s in scored]
    ax.bar(x, worst, color="#dddddd", label="worst")
    ax.bar(x, med, width=0.5, color=colours, label="median")
    ax.set_xticks(x, [s.window.name for s in scored], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 4.2)
    ax.set_ylabel("grade (0-4)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


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
    ax.set_ylabel("mirror / 100 onsets")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()
