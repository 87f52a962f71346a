"""A Polar Verity Sense and a MetaMotion S (emulated from the vendors' specifications,
polar_firmware.py and metawear_firmware.py) through bleak's real BlueZ backend: scan,
start with the settings each answers, both wrists streaming at once, drops and
reconnects."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import numpy as np
import pytest
from board import tapping
from conftest import Rig
from metawear_firmware import MetaMotionS
from polar_firmware import PolarVeritySense
from test_ble_links import stream
from wrist_firmware import FirmwareConfig, WristFirmware

from sensors.ble import scan
from sensors.ble_config import BleConfig
from sensors.ble_link import LinkState
from sensors.types import Side

POLAR, META, MIRROR = "A0:9E:1A:00:00:01", "F4:5E:AB:00:00:02", "C4:4F:33:6A:00:09"


def vendor_pair(
    rig: Rig, clock: Callable[[], float] = time.monotonic, speed: float = 1.0
) -> tuple[PolarVeritySense, MetaMotionS]:
    """A Verity Sense on the left wrist (copying), a MetaMotion S on the right (tapping)."""
    polar = PolarVeritySense(clock, speed, drift_ppm=40.0, signal=tapping(False), seed=3)
    meta = MetaMotionS(clock, speed, drift_ppm=-3000.0, signal=tapping(True), seed=4)
    rig.do(lambda: rig.emulator.add_wrist(POLAR, "Polar Sense B5A6B12F", polar))
    rig.do(lambda: rig.emulator.add_wrist(META, "MetaWear", meta))
    return polar, meta


def test_scan_lists_each_kind(rig: Rig) -> None:
    vendor_pair(rig)
    mirror = WristFirmware(FirmwareConfig(seed=9), time.monotonic)
    rig.do(lambda: rig.emulator.add_wrist(MIRROR, "MirrorWatch L", mirror))
    found = sorted(asyncio.run(scan(1.0)), key=lambda f: f.name)
    assert [(f.name, f.address, f.profile) for f in found] == [
        ("MetaWear", META, "metawear"),
        ("MirrorWatch L", MIRROR, "mirrorwatch-v1"),
        ("Polar Sense B5A6B12F", POLAR, "polar-pmd"),
    ]


def test_verity_sense_and_metamotion_stream_together(rig: Rig) -> None:
    polar, _ = vendor_pair(rig)
    config = BleConfig(left=POLAR, right=META, odr_hz=100)
    run = asyncio.run(stream(config, until=4.0))
    assert run.source.kinds == {Side.L: "polar-pmd", Side.R: "metawear"}
    # Polar: ask ACC and GYRO settings (52 Hz only), SDK mode for 100 Hz, ask again,
    # start both at the offered 104 Hz with the 8 g / 2000 deg/s ranges
    assert polar.sdk_mode
    assert [r.hex() for r in polar.requests if r[0] == 0x02 and r[1] != 9] == [
        "0202" "00016800" "01011000" "02010800" "040103",
        "0205" "00016800" "01011000" "0201d007" "040103",
    ]
    for side, rate in ((Side.L, 104.0), (Side.R, 100.0)):
        blocks = run.blocks[side]
        stats = run.source.assemblers[side].stats
        assert stats.malformed == 0, side
        assert run.lost(side) == 0, side
        t = np.concatenate([b.t for b in blocks])
        assert np.all(np.diff(t) > 0)
        assert all(b.gyr is not None for b in blocks)
        step = float(np.median(np.diff(t[len(t) // 2 :])))
        assert step == pytest.approx(1 / rate, rel=0.01), side
        # lying still between taps: gravity on z (values were FACTOR- and range-scaled)
        acc = np.concatenate([b.acc for b in blocks])
        assert float(np.median(acc[:, 2])) == pytest.approx(9.81, abs=0.1), side
    assert run.source.status[Side.L].battery == 77
    assert run.source.status[Side.R].battery == 77
    # the MetaMotion's own oscillator runs 0.3 % slow: the clock fits its rate
    drift = run.source.assemblers[Side.R].clock.estimate.drift_ppm
    print(f"MetaMotion drift estimate {drift:+.0f} ppm (true -3000)")


@pytest.mark.parametrize("side", [Side.L, Side.R])
def test_each_make_drops_and_comes_back(rig: Rig, side: Side) -> None:
    vendor_pair(rig)
    address = POLAR if side is Side.L else META
    device = rig.emulator.devices[address]
    config = BleConfig(left=POLAR, right=META, odr_hz=100)

    def leave() -> None:
        rig.do(lambda: (setattr(device, "in_range", False), device.drop_link()))

    def come_back() -> None:
        rig.do(lambda: setattr(device, "in_range", True))

    run = asyncio.run(
        stream(config, until=7.0, script=[(2.0, leave), (4.0, come_back)], watch=side)
    )
    print(f"{side}: first block {run.first_block_after[side] * 1e3:.0f} ms after return")
    assert run.first_block_after[side] < 5.0
    states = run.states(side)
    assert LinkState.BACKOFF in states
    assert states[-2] is LinkState.STREAMING
    assert run.source.status[side].reconnects == 1
    assert run.source.status[side.other].reconnects == 0
    blocks = run.blocks[side]
    gaps = [(a, b) for a, b in itertools.pairwise(blocks) if b.lost]
    assert len(gaps) == 1
    before, after = gaps[0]
    away = float(after.t[0] - before.t[-1])
    rate = 104 if side is Side.L else 100
    assert away > 2.0
    # the gap is counted as lost samples, whether from the sensor's clock (Polar) or
    # from the session clock (MetaWear streams carry no time)
    assert after.lost == pytest.approx(away * rate, abs=0.05 * away * rate + 2)
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)
    assert t[-1] >= 7.0
    assert run.lost(side.other) == 0
