"""Both wrists over BLE as one Source (DESIGN.md §1, §6), and the scan for sensors.

Two `WristLink`s (sensors/ble_link.py) keep the wrists connected and put stamped
notification bytes on one bounded queue, each connection's bytes after the decoder its
sensor's settings call for (a `StreamStart`: the wrists may be of different makes, see
sensors/ble_drivers.py); `BleSource.blocks()` decodes them with one `BlockAssembler` per
wrist (sequence gaps -> `lost`, sensor ticks -> session clock) and yields ImuBlocks of
both sides as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice

from sensors.assembler import AssemblerStats, BlockAssembler
from sensors.ble_config import BleConfig
from sensors.ble_link import Item, LinkStatus, SharedScanner, StreamStart, WristLink
from sensors.protocols.base import Reason
from sensors.protocols.profiles import Kind, from_advertisement, profile
from sensors.types import ImuBlock, Side

log = logging.getLogger(__name__)

PROFILE = Kind.MIRRORWATCH.value


@dataclass(frozen=True, slots=True)
class FoundSensor:
    """A supported sensor seen advertising: RSSI in dBm, `profile` the protocol it speaks
    (a `Kind` value: mirrorwatch-v1, polar-pmd, metawear)."""

    name: str
    address: str
    rssi: int
    profile: str
    device: BLEDevice


async def bluetooth_available() -> None:
    """Return when the host can use Bluetooth LE; raise the BleakError or OSError a scan
    would meet (no system D-Bus, no BlueZ, no powered adapter) without scanning."""
    if sys.platform != "linux":
        return  # other back ends report a missing adapter when a scan starts
    from bleak.backends.bluezdbus.manager import get_global_bluez_manager

    manager = await get_global_bluez_manager()
    manager.get_default_adapter()


async def scan(seconds: float) -> list[FoundSensor]:
    """Supported sensors advertising within `seconds`, strongest signal first."""
    seen = await BleakScanner.discover(timeout=seconds, return_adv=True)
    found = []
    for device, adv in seen.values():
        name = adv.local_name or device.name or ""
        seen_as = from_advertisement(adv.service_uuids, name, adv.manufacturer_data)
        if seen_as is not None:
            found.append(FoundSensor(name, device.address, adv.rssi, seen_as.kind.value, device))
    return sorted(found, key=lambda f: (-f.rssi, f.address))


class BleSource:
    """The paired wrists as a Source; links start when `blocks()` is iterated.

    `devices` are scanned BLEDevices to connect without scanning first; `on_status`
    sees every link state change (also battery updates); `clock` is the host's
    monotonic clock (tests running the emulated sensors faster than real time pass
    theirs). Session time 0 is when `blocks()` starts.
    """

    def __init__(
        self,
        config: BleConfig,
        *,
        devices: Mapping[Side, BLEDevice] | None = None,
        on_status: Callable[[LinkStatus], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if config.left is None or config.right is None:
            raise ValueError("no wrists paired: run `mirrorwatch pair --left ADDR --right ADDR`")
        self.config = config
        self.addresses = {Side.L: config.left, Side.R: config.right}
        self._devices = dict(devices or {})
        self._listeners: list[Callable[[LinkStatus], None]] = [on_status] if on_status else []
        self._clock = clock
        self.origin = 0.0  # host clock at session time 0
        self.status: dict[Side, LinkStatus] = {}
        # each link's first StreamStart brings the decoder its sensor needs; until then
        # (no packet comes before it) the reference profile's stands in
        stand_in = profile(Kind.MIRRORWATCH).decoder
        self.assemblers = {side: BlockAssembler(side, stand_in()) for side in Side}
        self.kinds: dict[Side, Kind] = {}
        self.links: dict[Side, WristLink] = {}

    def session_time(self) -> float:
        return self._clock() - self.origin

    async def blocks(self) -> AsyncGenerator[ImuBlock, None]:
        self.origin = self._clock()
        packets: asyncio.Queue[Item] = asyncio.Queue(self.config.queue_size)
        scanner, lock = SharedScanner(), asyncio.Lock()
        self.links = {
            side: WristLink(
                side,
                address,
                self.config,
                scanner=scanner,
                connect_lock=lock,
                packets=packets,
                clock=self.session_time,
                on_status=self._status,
                device=self._devices.get(side),
            )
            for side, address in self.addresses.items()
        }
        tasks = [asyncio.create_task(link.run()) for link in self.links.values()]
        told = dict.fromkeys(Side, (0, 0))  # clock restarts and stalls already logged
        unread: dict[Side, set[Reason]] = {side: set() for side in Side}  # skips logged
        try:
            while True:
                packet = await _next(packets, tasks)
                assembler = self.assemblers[packet.side]
                if isinstance(packet, StreamStart):
                    assembler.use(packet.decoder)
                    self.kinds[packet.side] = packet.kind
                    continue
                blocks = assembler.feed(packet)
                link = self.links[packet.side]
                stats = assembler.stats
                link.lost, link.skipped = stats.lost, stats.malformed
                if stats.malformed:
                    _tell_skips(packet.side, assembler.skipped(), unread[packet.side])
                if (stats.resets, stats.stalled) != told[packet.side]:
                    _tell_clock(packet.side, stats, told[packet.side])
                    told[packet.side] = (stats.resets, stats.stalled)
                for block in blocks:
                    yield block
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def listen(self, callback: Callable[[LinkStatus], None]) -> None:
        """Also call `callback` on every link change (the session stores them)."""
        self._listeners.append(callback)

    def _status(self, status: LinkStatus) -> None:
        self.status[status.side] = status
        for callback in self._listeners:
            callback(status)


def _tell_skips(side: Side, skipped: Mapping[Reason, int], told: set[Reason]) -> None:
    """One line the first time a wrist's notifications are skipped for a reason (a
    sensor sending a frame format the decoder does not know shows up here, not as
    silence); the counts go on in the link's status."""
    for reason in skipped:
        if reason is not Reason.UNPAIRED and reason not in told:
            told.add(reason)
            log.warning(
                "%s: skipping notifications the decoder cannot read (%s: %s); counted",
                side,
                reason,
                _SKIP_WHY.get(reason, "malformed"),
            )


_SKIP_WHY = {
    Reason.VERSION: "a format or frame type it does not know",
    Reason.TIMESTAMP: "sensor time repeats or cannot be placed",
}


def _tell_clock(side: Side, stats: AssemblerStats, told: tuple[int, int]) -> None:
    """Log a sensor clock restart or a stalled tick counter (the assembler handled it)."""
    if stats.resets > told[0]:
        log.warning(
            "%s: sensor clock restarted (%d so far: %d set back, %d ahead); re-anchored",
            side,
            stats.resets,
            stats.clock_back,
            stats.clock_forward,
        )
    if stats.stalled > told[1] and told[1] == 0:
        # a frozen counter repeats every packet: once is enough, the count is in the stats
        log.warning("%s: sensor clock stalled; packets timed from their samples", side)


async def _next(packets: asyncio.Queue[Item], links: list[asyncio.Task[None]]) -> Item:
    """The next packet; a link that died of an unexpected error raises it here."""
    with contextlib.suppress(asyncio.QueueEmpty):
        return packets.get_nowait()  # the common case, without a task per packet
    getter = asyncio.ensure_future(packets.get())
    try:
        await asyncio.wait([getter, *links], return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
    for task in links:
        if task.done():
            task.result()  # raises the link's error; a link never returns otherwise
    return getter.result()
