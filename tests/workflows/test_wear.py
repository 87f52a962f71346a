"""Non-wear and swapped-wrist detection, on simulated wrists and a simulated table."""

from __future__ import annotations

import numpy as np
import pytest
from factories import movement_event

from pipeline.engine.events import Kind
from pipeline.workflows.monitoring import Monitor
from pipeline.workflows.wear import SideCheck, WearDetector
from sensors.simulated import SimConfig, simulate
from sensors.types import ImuBlock, Side

FS = 50.0


def on_table(side: Side, t0: float, t1: float, gyro: bool = True, seed: int = 0) -> list[ImuBlock]:
    """A sensor lying still: gravity fixed, its bias, white noise, 16-bit quantisation."""
    rng = np.random.default_rng([seed, 7])
    t = np.arange(round(t0 * FS), round(t1 * FS)) / FS
    up = np.array([0.1, -0.05, 1.0])
    up /= np.linalg.norm(up)
    lsb_acc, lsb_gyr = 16 * 9.81 / 32768, np.radians(2000) / 32768
    acc = np.round((up * 9.81 + rng.normal(0, 0.03, (len(t), 3))) / lsb_acc) * lsb_acc
    gyr = np.array([0.01, -0.008, 0.005]) + rng.normal(0, 0.007, (len(t), 3))
    gyr = np.round(gyr / lsb_gyr) * lsb_gyr
    return [
        ImuBlock(side, t[i : i + 4], acc[i : i + 4], gyr[i : i + 4] if gyro else None)
        for i in range(0, len(t), 4)
    ]


@pytest.fixture(scope="module")
def worn() -> list[ImuBlock]:
    """20 min of a simulated day: rests, free movements, both wrists worn."""
    return list(simulate("home-day", SimConfig(fs=FS, duration=1200.0, seed=0)).blocks())


@pytest.mark.parametrize("gyro", [True, False])
def test_a_sensor_on_a_table_is_not_worn(gyro: bool) -> None:
    det = WearDetector(Side.R)
    epochs = [e for b in on_table(Side.R, 0.0, 600.0, gyro) for e in det.process(b)]
    epochs += det.flush()
    assert len(epochs) == 10
    assert not any(e.worn for e in epochs)
    assert [(s.start, s.end) for s in det.spans] == [(0.0, None)]


def test_a_resting_wrist_is_worn_and_putting_the_sensor_on_ends_non_wear(
    worn: list[ImuBlock],
) -> None:
    left, right = WearDetector(Side.L), WearDetector(Side.R)
    epochs = [e for b in worn if b.side is Side.L for e in left.process(b)] + left.flush()
    assert len(epochs) == 20
    assert all(e.worn for e in epochs)  # including minutes of rest
    # right sensor: 10 min on the table, then on the wrist
    blocks = on_table(Side.R, 0.0, 600.0) + [b for b in worn if b.side is Side.R and b.t[0] > 600]
    got = [e for b in blocks for e in right.process(b)] + right.flush()
    assert [e.worn for e in got] == [False] * 10 + [True] * 10
    assert [(s.start, s.end) for s in right.spans] == [(0.0, 600.0)]


def test_swapped_wrists_are_told_from_the_movements() -> None:
    blocks = list(simulate("healthy", SimConfig(fs=FS, duration=900.0, seed=0)).blocks())
    for swap in (False, True):
        check = SideCheck()
        det = {s: WearDetector(s) for s in Side}
        for b in blocks:
            side = b.side.other if swap else b.side
            relabelled = ImuBlock(side, b.t, b.acc, b.gyr)
            for e in det[side].process(relabelled):
                check.add(e)
        assert check.swapped() is swap


def test_monitor_hours_exclude_movements_into_a_sensor_off_the_wrist(
    worn: list[ImuBlock],
) -> None:
    mon = Monitor(hour=600.0)  # "hours" of 10 min keep the test short
    blocks = [b for b in worn if b.side is Side.L]
    blocks += on_table(Side.R, 0.0, 600.0)
    blocks += [b for b in worn if b.side is Side.R and b.t[0] > 600]
    for b in sorted(blocks, key=lambda b: float(b.t[-1])):
        mon.block(b)
    for t, kind in [(100.0, Kind.MIRROR), (700.0, Kind.MIRROR), (800.0, Kind.UNIMANUAL)]:
        mon.event(movement_event(t, kind))
    rows = mon.ready(1200.0) + mon.flush()
    by = {(r.hour, r.side): r for r in rows}
    assert set(by) == {(0, Side.L), (0, Side.R), (1, Side.L), (1, Side.R)}
    assert by[0, Side.R].worn_s == 0.0
    assert by[0, Side.L].worn_s == 600.0
    assert by[0, Side.L].onsets == 0  # the right sensor lay on the table
    assert (by[1, Side.L].onsets, by[1, Side.L].mirror) == (2, 1)
    assert by[1, Side.L].mirror_per_100 == 50.0
    kinds = [(w.kind, w.side, w.t) for w in mon.warnings()]
    assert kinds == [("non-wear", Side.R, 0.0), ("worn-again", Side.R, 600.0)]


def test_status_counts_start_again_at_midnight() -> None:
    mon = Monitor(day_offset=86400.0 - 100.0)  # the session starts 100 s before midnight
    mon.event(movement_event(50.0, Kind.MIRROR))
    assert (mon.counts.onsets[Side.L], mon.counts.mirror[Side.L]) == (1, 1)
    mon.event(movement_event(150.0, Kind.UNIMANUAL))
    assert (mon.counts.onsets[Side.L], mon.counts.mirror[Side.L]) == (1, 0)
