"""sensors/ble.py through bleak's real BleakScanner/BleakClient (BlueZ backend, D-Bus)
against emulated wrists: streaming, drops, stalls, garbage and drifting clocks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest
from bleak.backends.device import BLEDevice
from conftest import LEFT, RIGHT, Rig, ScaledClock
from wrist_firmware import ACC_RANGES_G, GYRO_RANGES_DPS, FirmwareConfig, SentPacket

from sensors.ble import PROFILE, BleSource, scan
from sensors.ble_config import BleConfig
from sensors.ble_link import LinkState, LinkStatus
from sensors.types import ImuBlock, Side

G = 9.80665


# repr=False: asyncio.run formats the finished task (and so this result) when it
# restores the SIGINT handler; a repr of every block's arrays took seconds
@dataclass(repr=False)
class Run:
    """What the gateway produced: blocks per side, link status changes."""

    source: BleSource
    blocks: dict[Side, list[ImuBlock]] = field(default_factory=lambda: {s: [] for s in Side})
    statuses: list[LinkStatus] = field(default_factory=list)
    first_block_after: dict[Side, float] = field(default_factory=dict)  # session s

    def samples(self, side: Side) -> int:
        return sum(len(b) for b in self.blocks[side])

    def lost(self, side: Side) -> int:
        return sum(b.lost for b in self.blocks[side])

    def states(self, side: Side) -> list[LinkState]:
        return [s.state for s in self.statuses if s.side is side]


async def stream(
    config: BleConfig,
    until: float,
    script: Sequence[tuple[float, Callable[[], None]]] = (),
    clock: Callable[[], float] = time.monotonic,
    speed: float = 1.0,
    watch: Side | None = None,
    devices: Mapping[Side, BLEDevice] | None = None,
) -> Run:
    """Run a BleSource until both sides reached `until` session seconds.

    `script` actions run at their session times; `watch` records when that side's
    first block arrives after each action (reconnect time).
    """
    statuses: list[LinkStatus] = []
    source = BleSource(config, devices=devices, on_status=statuses.append, clock=clock)
    run = Run(source, statuses=statuses)
    marks: list[float] = []

    async def act() -> None:
        for at, action in script:
            await asyncio.sleep(max(0.0, at - source.session_time()) / speed)
            action()
            marks.append(source.session_time())

    actor = asyncio.create_task(act())
    async with contextlib.aclosing(source.blocks()) as blocks:
        async for block in blocks:
            run.blocks[block.side].append(block)
            done = len(marks) == len(script)
            if block.side is watch and done and watch not in run.first_block_after:
                run.first_block_after[watch] = source.session_time() - marks[-1]
            ends = [float(run.blocks[s][-1].t[-1]) if run.blocks[s] else 0.0 for s in Side]
            if min(ends) >= until and actor.done():
                break
    await actor
    return run


def expected(sent: list[SentPacket], start_seq: int | None = None) -> list[SentPacket]:
    """Packets the radio delivered, from the first delivered one on."""
    delivered = [p for p in sent if p.delivered]
    if start_seq is None:
        return delivered
    return [p for p in delivered if p.seq >= start_seq]


def undelivered_between(sent: list[SentPacket], first: int, last: int) -> int:
    """Samples the firmware produced but never sent, between two received sequence numbers."""
    return sum(len(p.raw) for p in sent if first < p.seq < last and not p.delivered)


def test_scan_lists_both_wrists(rig: Rig) -> None:
    rig.pair()
    found = asyncio.run(scan(1.0))
    assert [(f.name, f.address, f.profile) for f in sorted(found, key=lambda f: f.name)] == [
        ("MirrorWatch L", LEFT, PROFILE),
        ("MirrorWatch R", RIGHT, PROFILE),
    ]
    assert all(-100 < f.rssi < 0 for f in found)


def test_two_wrists_60_s_at_200_hz_drifting_clocks_no_loss(rig: Rig) -> None:
    """60 s of sensor time at 3x real time; crystals +-50 ppm off; 0-30 ms radio jitter."""
    speed = 3.0
    clock = ScaledClock(speed)
    left, right = rig.pair(
        FirmwareConfig(seed=11, drift_ppm=50.0, jitter_s=0.030),
        FirmwareConfig(seed=12, drift_ppm=-50.0, jitter_s=0.030),
        clock=clock,
        speed=speed,
    )
    config = BleConfig(left=LEFT, right=RIGHT, stall_timeout=3.0 * speed)
    run = asyncio.run(stream(config, until=61.5, clock=clock, speed=speed))
    origin = run.source.origin
    for side, device in ((Side.L, left), (Side.R, right)):
        blocks = run.blocks[side]
        sent = expected(device.firmware.sent, start_seq=blocks[0].seq)[: len(blocks)]
        stats = run.source.assemblers[side].stats
        assert stats.lost == 0
        assert stats.malformed == 0
        assert run.lost(side) == 0
        assert [b.seq for b in blocks] == [p.seq for p in sent]
        span = float(blocks[-1].t[-1] - blocks[0].t[0])
        assert span >= 60.0
        assert run.samples(side) == 10 * len(blocks)
        # decoded values: raw * full scale / 32768, in m/s^2 and rad/s
        raw = np.concatenate([p.raw for p in sent]).astype(np.float64)
        acc = np.concatenate([b.acc for b in blocks])
        gyr = np.concatenate([b.gyr for b in blocks if b.gyr is not None])
        np.testing.assert_allclose(acc, raw[:, :3] * ACC_RANGES_G[2] * G / 32768, rtol=1e-12)
        scale = math.radians(GYRO_RANGES_DPS[4]) / 32768
        np.testing.assert_allclose(gyr, raw[:, 3:] * scale, rtol=1e-12)
        # clock: session times against when the emulated sensor really took each sample.
        # A constant part is the path's minimum latency, which no receiver can see; what
        # the estimator owns is the spread around it (drift and jitter left over).
        t = np.concatenate([b.t for b in blocks])
        truth = np.concatenate([p.t_true for p in sent]) - origin
        residual = (t - truth)[truth > 50.0]
        floor = float(np.median(residual))
        spread = float(np.max(np.abs(residual - floor)))
        drift = run.source.assemblers[side].clock.estimate.drift_ppm
        print(
            f"{side}: {run.samples(side)} samples over {span:.1f} s, lost 0; residual after"
            f" 50 s: {floor * 1e3:.2f} ms constant, +-{spread * 1e3:.2f} ms; drift {drift:+.1f} ppm"
        )
        assert 0.0 <= floor < 0.030
        # the estimator's goal is 2 ms (tests/sensors/test_clock.py); here, at 3x real
        # time, the host's scheduling noise is tripled in sensor time: measured +-0.2-0.5
        # ms on an idle machine, up to +-4 ms with other suites busy on both cores
        assert spread < 0.006
        # the drift estimate is printed, not asserted: with this latency floor it has
        # been off by 5-65 ppm over 60 s while the residual spread stayed within 0.5 ms
        # (idle machine)
        assert stats.resets == 0
    assert all(s.state is not LinkState.BACKOFF for s in run.statuses)


def test_wrist_drops_and_returns(rig: Rig) -> None:
    left, _right = rig.pair()
    config = BleConfig(left=LEFT, right=RIGHT)

    def leave() -> None:
        rig.do(lambda: (setattr(left, "in_range", False), left.drop_link()))

    def come_back() -> None:
        rig.do(lambda: setattr(left, "in_range", True))

    run = asyncio.run(
        stream(config, until=8.0, script=[(2.0, leave), (5.0, come_back)], watch=Side.L)
    )
    reconnect = run.first_block_after[Side.L]
    print(f"first left block {reconnect * 1e3:.0f} ms after the wrist returned")
    assert reconnect < 5.0
    states = run.states(Side.L)
    assert states[:4] == [
        LinkState.SCANNING,
        LinkState.CONNECTING,
        LinkState.SUBSCRIBING,
        LinkState.STREAMING,
    ]
    i = states.index(LinkState.BACKOFF)
    assert LinkState.SCANNING in states[i:]
    assert states[-2] is LinkState.STREAMING
    assert run.source.status[Side.L].reconnects == 1
    assert run.source.status[Side.R].reconnects == 0
    # the gap is counted exactly: every sample the firmware took while away
    blocks = run.blocks[Side.L]
    gaps = [(a, b) for a, b in itertools.pairwise(blocks) if b.lost]
    assert len(gaps) == 1
    before, after = gaps[0]
    assert after.lost == undelivered_between(left.firmware.sent, before.seq, after.seq)
    assert after.lost >= 3.0 * 200 * 0.95  # away for 3 s
    assert after.t[0] - before.t[-1] == pytest.approx((after.lost + 1) / 200, abs=0.01)
    assert run.lost(Side.R) == 0


def test_stalled_stream_is_reconnected_by_the_watchdog(rig: Rig) -> None:
    left, right = rig.pair()
    config = BleConfig(left=LEFT, right=RIGHT, stall_timeout=1.0)
    run = asyncio.run(
        stream(config, until=6.0, script=[(2.0, lambda: rig.do(right.firmware.stall))])
    )
    backoffs = [s for s in run.statuses if s.side is Side.R and s.state is LinkState.BACKOFF]
    assert len(backoffs) == 1
    assert backoffs[0].detail.startswith("stream stalled")
    assert 3.0 <= backoffs[0].t <= 4.0  # stall at 2 s, noticed after 1 s (+1/4 s, + load)
    assert run.source.status[Side.R].reconnects == 1
    assert right.connects == 2
    assert left.connects == 1
    blocks = run.blocks[Side.R]
    gaps = [(a, b) for a, b in itertools.pairwise(blocks) if b.lost]
    jumps = [
        (a.seq, b.seq, float(a.t[-1]), float(b.t[0]))
        for a, b in itertools.pairwise(blocks)
        if b.seq != a.seq + 1
    ]
    assert len(gaps) == 1, (run.source.assemblers[Side.R].stats, jumps)
    before, after = gaps[0]
    assert after.lost == undelivered_between(right.firmware.sent, before.seq, after.seq)
    assert float(blocks[-1].t[-1]) >= 6.0
    assert run.lost(Side.L) == 0


def test_garbage_notifications_are_counted_and_skipped(rig: Rig) -> None:
    left, _ = rig.pair()
    rng = np.random.default_rng(7)
    # version 1, gyro, seq 0, tick 0, tick_hz 32768, odr 200, n 1, ranges 0x42, one sample
    valid = bytes.fromhex("010100000000000000800000c8000142") + bytes(12)
    payloads = (
        [
            b"",
            b"\x01",  # truncated header
            rng.bytes(15),
            bytes([2]) + valid[1:],  # a future packet version
            valid[:-2],  # a sample cut short
            valid + b"\x00",  # a byte too many
            bytes([1, 0x80]) + valid[2:],  # reserved flag bit
        ]
        + [bytes([9]) + rng.bytes(int(rng.integers(1, 200))) for _ in range(13)]
    )

    def spray() -> None:
        rig.do(lambda: [left.firmware.send_garbage(p) for p in payloads])

    config = BleConfig(left=LEFT, right=RIGHT)
    run = asyncio.run(stream(config, until=3.0, script=[(1.0, spray)]))
    stats = run.source.assemblers[Side.L].stats
    assert left.firmware.garbage_sent == len(payloads) == 20
    assert stats.malformed == 20
    assert run.source.links[Side.L].skipped == 20
    assert stats.lost == 0
    assert run.lost(Side.L) == 0
    blocks = run.blocks[Side.L]
    assert [b.seq for b in blocks] == list(range(blocks[0].seq, blocks[0].seq + len(blocks)))
    assert all(s.state is not LinkState.BACKOFF for s in run.statuses)


def test_connects_scanned_devices_and_reads_the_battery_periodically(rig: Rig) -> None:
    left, right = rig.pair()
    found = {f.address: f.device for f in asyncio.run(scan(1.0))}
    devices = {Side.L: found[LEFT], Side.R: found[RIGHT]}

    def drain() -> None:
        rig.do(lambda: setattr(left.firmware.config, "battery", 55))

    config = BleConfig(left=LEFT, right=RIGHT, battery_period=0.5)
    run = asyncio.run(stream(config, until=2.5, script=[(1.0, drain)], devices=devices))
    # a scanned device is connected at once, without scanning again
    for side in Side:
        assert run.states(side)[:3] == [
            LinkState.CONNECTING,
            LinkState.SUBSCRIBING,
            LinkState.STREAMING,
        ]
    batteries = [s.battery for s in run.statuses if s.side is Side.L]
    assert batteries[2] == 87
    assert batteries[-1] == 55
    assert run.source.status[Side.R].battery == 87
    assert right.connects == 1


def test_a_wrist_that_reboots_is_re_anchored_counted_and_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """The left board reboots mid-session (its tick counter starts again from zero):
    the stream goes on, in order on the session clock, and the restart is counted
    and logged once."""
    left, _right = rig.pair()
    config = BleConfig(left=LEFT, right=RIGHT)

    async def reboot() -> None:
        left.drop_link()
        await left.firmware.power_off()
        left.firmware.power_on()

    def crash() -> None:
        rig.do(lambda: asyncio.get_running_loop().create_task(reboot()))

    with caplog.at_level(logging.WARNING, logger="sensors.ble"):
        run = asyncio.run(stream(config, until=6.0, script=[(2.0, crash)], watch=Side.L))
    print(f"first left block {run.first_block_after[Side.L] * 1e3:.0f} ms after the reboot")
    stats = run.source.assemblers[Side.L].stats
    assert stats.resets == 1
    assert run.source.assemblers[Side.R].stats.resets == 0
    t = np.concatenate([b.t for b in run.blocks[Side.L]])
    assert np.all(np.diff(t) > 0)
    assert t[-1] >= 6.0
    assert len(t) >= 0.8 * 6.0 * 200  # the samples after the reboot arrive too
    told = [r.getMessage() for r in caplog.records if "clock restarted" in r.getMessage()]
    assert len(told) == 1
    assert told[0].startswith("L: sensor clock restarted (1 so far")
