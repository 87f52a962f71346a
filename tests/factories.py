"""Objects several tests build by hand, made one way."""

from __future__ import annotations

from pipeline.engine.events import Kind, MovementEvent
from sensors.types import Side


def movement_event(t: float, kind: Kind = Kind.UNIMANUAL) -> MovementEvent:
    """A left-hand movement at `t` s, 0.5 s long; a mirror at ratio 0.3, 50 ms late."""
    return MovementEvent(
        t_onset=t,
        t_offset=t + 0.5,
        active=Side.L,
        kind=kind,
        mirror_ratio=0.3 if kind is Kind.MIRROR else 0.0,
        lag_ms=50.0 if kind is Kind.MIRROR else None,
        coupling=0.8,
        grade=2 if kind is Kind.MIRROR else 0,
        peak_active=1.0,
        peak_contra=0.3,
        completeness={Side.L: 1.0, Side.R: 1.0},
        detected_at=t + 0.1,
        decided_at=t + 1.0,
    )
