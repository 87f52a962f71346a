"""Plain-text tables of an assessment, for the terminal."""

from __future__ import annotations

from pipeline.workflows.assessment.protocol import GRADE_SCALE_SOURCE
from pipeline.workflows.assessment.results import Assessment
from pipeline.workflows.assessment.scoring import DISCLAIMER, Stats
from sensors.types import Side


def format_assessment(a: Assessment) -> str:
    """Every protocol task (attempts, or "not run"), one verdict line per hand, the
    limits' source, then the disclaimer."""
    head = (
        f"{'task':<15}{'hand':>5}{'exp':>4}{'det':>4}{'mirror':>7}{'share':>6}"
        f"{'med.r':>6}{'max.r':>6}{'lag':>5}{'gr.med':>7}{'worst':>6}{'data L/R':>10}"
    )
    lines = [head, "-" * len(head)]
    for planned in a.plan:
        attempts = [s for s in a.tasks if s.window.name == planned.name]
        if not attempts:
            name = f"({planned.name} not run)"
            lines.append(f"{name:<15.15}{planned.active.value:>5}" + "-".rjust(4) * 2)
        for s in attempts:
            w = s.window
            name = w.name if s.scored else f"({w.name} {w.status.value})"
            comp = "/".join(f"{s.completeness[side]:.0%}" for side in Side)
            lines.append(
                f"{name:<15.15}{w.active.value:>5}{s.expected:>4}{s.stats.movements:>4}"
                f"{s.stats.mirror:>7}{_row(s.stats)}{comp:>10}"
            )
    lines.append("")
    for side in Side:
        lines.append(a.verdict.hands[side].line())
    lim = a.limits
    lines += [
        "",
        f"limits: {lim.source}; {GRADE_SCALE_SOURCE}; a required task needs "
        f"{lim.data_floor:.0%} of the samples of each wrist",
    ]
    if not a.verdict.complete:
        lines.append(
            "ASSESSMENT INCOMPLETE: the protocol did not run to its end, "
            "or a required task lacks data"
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
