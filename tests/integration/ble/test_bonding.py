"""Bonding: the MirrorWatch data needs an encrypted link; `pair` bonds through bleak's
BleakClient.pair() (Device1.Pair) with a Just Works agent, as on a real gateway.

`pair` runs in-process (its start-up alone costs seconds as a subprocess here); the
emulated BlueZ answers an unencrypted request for protected attributes as BlueZ does,
NotPermitted "Not paired".
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from bluez_emulator import Device
from conftest import LEFT, RIGHT, Rig
from wrist_firmware import FirmwareConfig

from pipeline.cli import main
from sensors.ble import BleSource
from sensors.ble_config import BleConfig
from sensors.ble_link import LinkState, LinkStatus
from sensors.types import Side

NOT_BONDED = (
    "not bonded with this gateway: run `mirrorwatch pair --left ADDR --right ADDR` with the "
    "wrist near (press its button first to open its pairing window)"
)


async def _attempt(seconds: float) -> tuple[list[LinkStatus], dict[Side, int]]:
    """Run the BLE source for `seconds`: its status changes and the samples per side."""
    statuses: list[LinkStatus] = []
    samples = dict.fromkeys(Side, 0)
    source = BleSource(BleConfig(left=LEFT, right=RIGHT), on_status=statuses.append)

    async def consume() -> None:
        async with contextlib.aclosing(source.blocks()) as blocks:
            async for block in blocks:
                samples[block.side] += len(block)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(consume(), seconds)
    return statuses, samples


def _details(statuses: list[LinkStatus], side: Side) -> set[str]:
    return {s.detail for s in statuses if s.side is side and s.state is LinkState.BACKOFF}


def _wrists(rig: Rig, **left: object) -> tuple[Device, Device]:
    return (
        rig.add(LEFT, "MirrorWatch L", FirmwareConfig(seed=1), **left),  # type: ignore[arg-type]
        rig.add(RIGHT, "MirrorWatch R", FirmwareConfig(seed=2), bonded=False),
    )


def _pair(config: Path, *more: str) -> int:
    if not config.exists():
        config.write_text("[ble]\n", encoding="utf-8")
    return main(["--config", str(config), "pair", "--left", LEFT, "--right", RIGHT, *more])


def test_unbonded_wrists_say_run_pair_then_pair_bonds_and_they_stream(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = _wrists(rig, bonded=False)
    statuses, samples = asyncio.run(_attempt(2.0))
    for side in Side:
        details = _details(statuses, side)
        assert details == {NOT_BONDED}, details
    assert samples == dict.fromkeys(Side, 0)
    assert rig.do(lambda: (left.host_bond, left.connects > 0)) == (False, True)

    config = tmp_path / "mirrorwatch.toml"
    assert _pair(config, "--seconds", "5") == 0
    out = capsys.readouterr()
    assert out.err == ""
    bonded = "bonded (firmware 1.0.0 mw1; 200 Hz, ±8 g, ±2000 °/s)"
    assert out.out.splitlines()[1:] == [f"L {LEFT}: {bonded}", f"R {RIGHT}: {bonded}"]
    for device in (left, right):
        assert rig.do(lambda d=device: (d.host_bond, d.peer_bond, d.trusted, d.pairings)) == (
            True,
            True,
            True,
            1,
        )
    # the agent was there for the pairing only
    assert rig.do(lambda: (rig.emulator.agents.registered, rig.emulator.agents.default)) == (
        {},
        None,
    )

    statuses, samples = asyncio.run(_attempt(2.0))
    assert all(n > 100 for n in samples.values()), samples
    assert not any(_details(statuses, side) for side in Side)

    # pairing again finds the bond and proves it with an encrypted read: no new pairing
    assert _pair(config, "--seconds", "5") == 0
    assert f"L {LEFT}: {bonded}" in capsys.readouterr().out
    assert rig.do(lambda: (left.pairings, right.pairings)) == (1, 1)


def test_pair_tells_what_to_do_when_a_wrist_refuses_or_is_away(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = _wrists(rig, bonded=False)
    rig.do(lambda: setattr(left, "pairing_window", False))
    rig.do(lambda: setattr(right, "in_range", False))
    config = tmp_path / "mirrorwatch.toml"
    assert _pair(config, "--seconds", "1") == 1
    out = capsys.readouterr()
    assert out.err.splitlines() == [
        f"mirrorwatch: L {LEFT}: not bonded: the wrist refused; press the wrist's button "
        "(it accepts pairing for 60 s after) and run pair again",
        f"mirrorwatch: R {RIGHT}: not bonded: not seen in 1 s",
    ]
    assert "left = " in config.read_text()  # the config is written all the same
    assert rig.do(lambda: left.host_bond) is False

    # --no-bond only writes the config
    rig.do(lambda: setattr(right, "in_range", True))
    connects = rig.do(lambda: (left.connects, right.connects))
    assert _pair(config, "--no-bond") == 0
    assert rig.do(lambda: (left.connects, right.connects)) == connects


def test_a_wrist_that_lost_its_bond_is_bonded_again_with_rebond(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, _ = _wrists(rig)  # left bonded, right not yet
    rig.do(lambda: setattr(left, "peer_bond", False))  # the left wrist was reset
    statuses, _ = asyncio.run(_attempt(1.5))
    assert _details(statuses, Side.L) == {NOT_BONDED}

    config = tmp_path / "mirrorwatch.toml"
    assert _pair(config, "--seconds", "5") == 1
    out = capsys.readouterr()
    assert out.err == (
        f"mirrorwatch: L {LEFT}: not bonded: BlueZ holds a bond the wrist has lost (reset, or "
        "paired elsewhere); press the wrist's button and run pair again with --rebond\n"
    )
    assert f"R {RIGHT}: bonded" in out.out

    assert _pair(config, "--seconds", "5", "--rebond") == 0
    assert rig.do(lambda: (left.host_bond, left.peer_bond, left.pairings)) == (True, True, 1)
    statuses, samples = asyncio.run(_attempt(2.0))
    assert samples[Side.L] > 100


def test_firmware_and_device_config_the_gateway_cannot_use_are_one_status_line(
    rig: Rig,
) -> None:
    rig.add(LEFT, "MirrorWatch L", FirmwareConfig(seed=1, firmware_revision="2.0.0 mw2"))
    # 40 samples of 12 bytes: 496 bytes, more than a notification of ATT MTU 247 holds
    rig.add(RIGHT, "MirrorWatch R", FirmwareConfig(seed=2, samples_per_packet=40))
    statuses, samples = asyncio.run(_attempt(1.5))
    assert _details(statuses, Side.L) == {
        "firmware revision '2.0.0 mw2' is not MirrorWatch profile v1 ('<version> mw1')"
    }
    assert _details(statuses, Side.R) == {
        "device config: 40 samples per notification do not fit the link's ATT MTU of 247 bytes "
        "(at most 19)"
    }
    assert samples == dict.fromkeys(Side, 0)
