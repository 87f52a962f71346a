"""Fixtures: a private D-Bus system bus, an emulated BlueZ on it, and wrists to add.

bleak finds the bus through DBUS_SYSTEM_BUS_ADDRESS, set here for the whole test
session (and passed on to `mirrorwatch` subprocesses), so the code under test runs
bleak's BlueZ backend exactly as on a Linux gateway.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest
from bluez_emulator import BluezEmulator, Device, EmulatorThread, private_system_bus
from prerequisites import require_program
from wrist_firmware import FirmwareConfig, WristFirmware

T = TypeVar("T")
LEFT, RIGHT = "C4:4F:33:6A:00:01", "C4:4F:33:6A:00:02"


class ScaledClock:
    """Host seconds running `speed` times faster than time.monotonic, from now on."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._start = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._start) * self.speed


@dataclass
class Rig:
    """The emulated BlueZ and a way to act on its loop from the test."""

    thread: EmulatorThread
    emulator: BluezEmulator

    def add(
        self,
        address: str,
        name: str,
        config: FirmwareConfig,
        clock: Callable[[], float] = time.monotonic,
        speed: float = 1.0,
        bonded: bool = True,
    ) -> Device:
        """A wrist, by default bonded to this gateway already (as after `mirrorwatch pair`)."""
        firmware = WristFirmware(config, clock, speed)
        device = self.thread.call(lambda: self.emulator.add_wrist(address, name, firmware))
        device.host_bond = device.peer_bond = device.trusted = bonded
        return device

    def pair(
        self,
        left: FirmwareConfig | None = None,
        right: FirmwareConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        speed: float = 1.0,
    ) -> tuple[Device, Device]:
        return (
            self.add(LEFT, "MirrorWatch L", left or FirmwareConfig(seed=1), clock, speed),
            self.add(RIGHT, "MirrorWatch R", right or FirmwareConfig(seed=2), clock, speed),
        )

    def do(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the emulator's loop (the firmware and D-Bus objects live there)."""
        return self.thread.call(fn)


@pytest.fixture(scope="session")
def system_bus() -> Iterator[str]:
    require_program("dbus-daemon", "dbus-daemon")
    with private_system_bus() as address:
        previous = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        try:
            yield address
        finally:
            if previous is None:
                del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = previous


@pytest.fixture
def rig(system_bus: str) -> Iterator[Rig]:
    thread = EmulatorThread()
    emulator = BluezEmulator(system_bus)
    thread.run(emulator.start())
    try:
        yield Rig(thread, emulator)
    finally:
        thread.run(emulator.stop())
        thread.close()
