"""Known spool contents for the delivery tests: what goes in, what must come out."""

from __future__ import annotations

import time

import numpy as np

from pipeline.engine.events import Kind, MovementEvent
from pipeline.settings import InfluxSettings
from pipeline.store.lineproto import wall_ns
from pipeline.store.sessions import SessionInfo
from pipeline.store.spool import Spool
from sensors.types import ImuBlock, Side

# One day back, whole seconds: inside every server's retention and never in the future.
T0 = float(int(time.time()) - 86_400)


def ms(started_at: float, t: float) -> int:
    """The millisecond timestamp a server that keeps ms (VictoriaMetrics) reports."""
    return wall_ns(started_at, t) // 1_000_000


def movement(t: float, *, kind: Kind = Kind.MIRROR, task: str | None = None) -> MovementEvent:
    mirror = kind is Kind.MIRROR
    return MovementEvent(
        t_onset=t,
        t_offset=round(t + 0.76, 3),
        active=Side.R,
        kind=kind,
        mirror_ratio=0.18 if mirror else 0.0,
        lag_ms=42.0 if mirror else None,
        coupling=0.81 if mirror else 0.0,
        grade=2 if mirror else 0,
        peak_active=2.1,
        peak_contra=0.378 if mirror else 0.0,
        completeness={Side.L: 1.0, Side.R: 0.975},
        detected_at=round(t + 0.07, 3),
        decided_at=round(t + 0.86, 3),
        task=task,
    )


def block(side: Side, n: int, *, start: float = 0.0, gyro: bool = True, seed: int = 0) -> ImuBlock:
    rng = np.random.default_rng(seed)
    return ImuBlock(
        side=side,
        t=start + np.arange(n) / 100.0,
        acc=rng.normal(0.0, 3.0, size=(n, 3)),
        gyr=rng.normal(0.0, 1.0, size=(n, 3)) if gyro else None,
    )


def session(spool: Spool, subject: str = "P01", started_at: float = T0) -> SessionInfo:
    return spool.start_session(
        subject=subject, source="simulated", mode="demo", started_at=started_at
    )


def v2(url: str, token: str = "any-token", batch_size: int = 5000) -> InfluxSettings:
    return InfluxSettings(
        url=url, org="mirrorwatch", bucket="mirrorwatch", token=token, batch_size=batch_size
    )
