"""Plain-text tables of an assessment, for the terminal."""

from __future__ import annotations

from pipeline.workflows.assessment.results import Assessment
from pipeline.workflows.assessment.scoring import DISCLAIMER, Stats
from sensors.types import Side


def format_assessment(a: Assessment) -> str:
    """Per-task rows, then one verdict line per hand, then the disclaimer."""
    head = (
        f"{'task':<15}{'hand':>5}{'exp':>4}{'det':>4}{'mirror':>7}{'share':>6}"
        f"{'med.r':>6}{'max.r':>6}{'lag':>5}{'gr.med':>7}{'worst':>6}{'data L/R':>10}"
    )
    lines = [head, "-" * len(head)]
    for s in a.tasks:
        w = s.window
        name = w.name if s.scored else f"({w.name} {w.status.value})"
        comp = "/".join(f"{s.completeness[side]:.0%}" for side in Side)
        lines.append(
            f"{name:<15.15}{w.active.value:>5}{s.expected:>4}{s.stats.movements:>4}"
            f"{s.stats.mirror:>7}{_row(s.stats)}{comp:>10}"
        )
    lines.append("")
    for side in Side:
        h = a.hands[side]
        verdict = "within reference limits" if h.within else "; ".join(h.exceeded)
        share = h.stats.mirror_share
        lines.append(
            f"{side.value} hand: {h.stats.movements} movements, "
            f"{'-' if share is None else f'{share:.0%}'} with mirror activity, "
            f"worst grade {_n(h.stats.grade_worst, 'd')}: {verdict}"
        )
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


def _row(s: Stats) -> str:
    share = s.mirror_share
    return (
        f"{'-' if share is None else f'{share:.0%}':>6}{_n(s.median_ratio, '.2f'):>6}"
        f"{_n(s.max_ratio, '.2f'):>6}{_n(s.median_lag_ms, '.0f'):>5}"
        f"{_n(s.grade_median, '.1f'):>7}{_n(s.grade_worst, 'd'):>6}"
    )


def _n(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)
