"""Bonding the wrists to this gateway through BlueZ (firmware_notes/gatt.md, "Bonding").

The MirrorWatch profile keeps its IMU data, control point and device config behind an
encrypted link, so each wrist is bonded once, in the clinic. BlueZ does the pairing (LE
Secure Connections, Just Works: the wrist has no display and no keys) and keeps the
keys; this project never sees them. Over D-Bus that takes two things: an agent
registered with org.bluez.AgentManager1 (BlueZ refuses even Just Works without one,
"No agent available"), and Device1.Pair on a connected device, which bleak's
`BleakClient.pair()` calls after setting Trusted. The agent here is the default agent
for the few seconds `pair` runs, says NoInputNoOutput and refuses anything but the
Just Works authorisation; BlueZ gives the default back to the previous agent after.

Bonding is proven, not assumed: after Pair the device config, which needs encryption,
is read and checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError, BleakError

from sensors.ble_drivers import FIRMWARE_REVISION_UUID, SECURITY_ERRORS, NotBonded
from sensors.protocols import mirrorwatch_control as mwc
from sensors.protocols.base import MalformedPacket
from sensors.protocols.profiles import from_advertisement
from sensors.types import Side

_REFUSED = (
    "org.bluez.Error.AuthenticationFailed",
    "org.bluez.Error.AuthenticationRejected",
    "org.bluez.Error.AuthenticationCanceled",
    "org.bluez.Error.AuthenticationTimeout",
)
_OPEN_WINDOW = "press the wrist's button (it accepts pairing for 60 s after) and run pair again"
_LOST_BOND = (
    "not bonded: BlueZ holds a bond the wrist has lost (reset, or paired elsewhere); "
    "press the wrist's button and run pair again with --rebond"
)


@dataclass(frozen=True, slots=True)
class Bond:
    """What `pair` did for one wrist: `ok` when the wrist streams from this gateway now."""

    side: Side
    address: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.side} {self.address}: {self.detail}"


async def bond_wrists(
    addresses: Mapping[Side, str], seconds: float, *, rebond: bool = False
) -> list[Bond]:
    """Bond each wrist seen within `seconds`, one after the other (BlueZ pairs one
    device at a time well); `rebond` first drops the bond BlueZ holds."""
    found = await _find(addresses.values(), seconds)
    if rebond:
        for address in addresses.values():
            if address in found:
                with contextlib.suppress(BleakError):
                    await BleakClient(found[address][0]).unpair()  # Adapter1.RemoveDevice
        found = await _find(addresses.values(), seconds)  # RemoveDevice dropped the objects
    results = []
    async with pairing_agent():
        for side, address in addresses.items():
            hit = found.get(address)
            if hit is None:
                results.append(Bond(side, address, False, f"not bonded: not seen in {seconds:g} s"))
            else:
                results.append(await _bond(side, address, *hit))
    return results


@contextlib.asynccontextmanager
async def pairing_agent() -> AsyncIterator[None]:
    """A Just Works agent, registered and the default while the block runs (Linux)."""
    if not sys.platform.startswith("linux"):
        yield  # Windows asks the user itself; macOS pairs on first encrypted access
        return
    from dbus_fast import BusType, DBusError
    from dbus_fast.aio import MessageBus

    from sensors import ble_agent

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        try:
            await ble_agent.register(bus)
        except DBusError as e:
            raise BleakError(f"BlueZ took no pairing agent: {e.type}: {e.text}") from None
        try:
            yield
        finally:
            with contextlib.suppress(DBusError):
                await ble_agent.call(bus, "UnregisterAgent", "o", [ble_agent.AGENT_PATH])
    finally:
        bus.disconnect()


async def _find(
    addresses: Iterable[str], seconds: float
) -> dict[str, tuple[BLEDevice, AdvertisementData]]:
    """The wanted devices that advertise within `seconds`, with their advertisements."""
    wanted = set(addresses)
    found: dict[str, tuple[BLEDevice, AdvertisementData]] = {}
    all_seen = asyncio.Event()

    def seen(device: BLEDevice, adv: AdvertisementData) -> None:
        address = device.address.upper()
        if address in wanted:
            found[address] = (device, adv)
            if wanted <= found.keys():
                all_seen.set()

    async with BleakScanner(detection_callback=seen):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_seen.wait(), seconds)
    return found


async def _bond(side: Side, address: str, device: BLEDevice, adv: AdvertisementData) -> Bond:
    name = adv.local_name or device.name or ""
    seen_as = from_advertisement(adv.service_uuids, name, adv.manufacturer_data)
    if seen_as is None or not seen_as.needs_bond:
        what = seen_as.kind.value if seen_as is not None else "not a supported sensor"
        return Bond(
            side, address, seen_as is not None, f"{what}: streams without a bond, not bonded"
        )
    try:
        async with BleakClient(device) as client:
            await client.pair()  # nothing to do when BlueZ holds a bond already
            try:
                raw = bytes(await client.read_gatt_char(mwc.CONFIG_UUID))
            except BleakDBusError as e:
                if e.dbus_error in SECURITY_ERRORS:
                    return Bond(side, address, False, _LOST_BOND)
                raise
            revision = bytes(await client.read_gatt_char(FIRMWARE_REVISION_UUID)).decode(
                "utf-8", errors="replace"
            )
    except BleakDBusError as e:
        if e.dbus_error in _REFUSED:
            return Bond(side, address, False, f"not bonded: the wrist refused; {_OPEN_WINDOW}")
        return Bond(side, address, False, f"not bonded: {e}")
    except (BleakError, TimeoutError, EOFError, ConnectionError) as e:
        why = str(e) or type(e).__name__
        return Bond(side, address, False, f"not bonded: could not connect ({why})")
    return _checked(side, address, raw, revision)


def _checked(side: Side, address: str, raw: bytes, revision: str) -> Bond:
    """Bonded; and what the wrist will stream, or why the gateway will refuse it."""
    if (problem := mwc.check_firmware_revision(revision)) is not None:
        return Bond(side, address, False, f"bonded, but {problem}")
    try:
        config = mwc.parse_config(raw)
    except MalformedPacket as e:
        return Bond(side, address, False, f"bonded, but its device config {raw.hex(' ')}: {e}")
    acc_g = 2 << config.acc
    gyro = f", ±{125 << config.gyr} °/s" if config.gyro else ", no gyroscope"
    return Bond(
        side,
        address,
        True,
        f"bonded (firmware {revision.strip()}; {config.odr_hz} Hz, ±{acc_g} g{gyro})",
    )


__all__ = ["Bond", "NotBonded", "bond_wrists", "pairing_agent"]
