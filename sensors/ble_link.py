"""One wrist's BLE link: an explicit state machine that keeps the stream up for days.

    SCANNING -> CONNECTING -> SUBSCRIBING -> STREAMING
        ^                                        |  link lost, or silent > stall_timeout
        +------------- BACKOFF <-----------------+  (and after any failed step)

Every change is reported as a `LinkStatus` (live view, `link` records). The only
work done in bleak's notification callback is stamping the arrival time and queueing
the bytes; decoding happens in the consumer (sensors/ble.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

from sensors.ble_config import BleConfig
from sensors.ble_drivers import ControlPointError, Driver, driver_for, kind_from_services
from sensors.protocols.base import Decoder
from sensors.protocols.profiles import Kind
from sensors.types import RawPacket, Side

log = logging.getLogger(__name__)

_DISCONNECT_TIMEOUT = 5.0  # s; BlueZ may hang on a device that already vanished
_BACKOFF_START = 0.25  # s, doubled per failure up to BleConfig.backoff_max
# what a flaky radio, a vanished device or a confused stack raises; anything else is a bug
LINK_ERRORS = (BleakError, TimeoutError, EOFError, BrokenPipeError, ConnectionError)


class LinkState(StrEnum):
    SCANNING = "scanning"
    CONNECTING = "connecting"
    SUBSCRIBING = "subscribing"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """One wrist's link at session time `t` (s): state, last RSSI (dBm) and battery (%),
    samples lost to sequence gaps, notifications skipped as undecodable, reconnects so
    far, why the last step failed (`detail`, empty if none), and the sensor's kind once
    connected."""

    side: Side
    state: LinkState
    t: float
    address: str
    rssi: int | None
    battery: int | None
    lost: int
    skipped: int
    reconnects: int
    detail: str = ""
    kind: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class StreamStart:
    """On the packet queue before a connection's first packet: decode what follows
    from `side` with `decoder` (the settings the sensor answered on this connection)."""

    side: Side
    decoder: Decoder
    kind: Kind


Item = RawPacket | StreamStart


class SharedScanner:
    """One BleakScanner for all links that are looking for their sensor.

    BlueZ gives one discovery session per D-Bus client, so the two wrists must not
    scan on their own; the scanner runs while anyone waits and stops after.
    """

    def __init__(self) -> None:
        self._wanted: dict[str, asyncio.Future[tuple[BLEDevice, int]]] = {}
        self._scanner: BleakScanner | None = None
        self._lock = asyncio.Lock()

    async def find(self, address: str, within: float) -> tuple[BLEDevice, int] | None:
        """The device and its RSSI once it advertises, or None after `within` s."""
        found: asyncio.Future[tuple[BLEDevice, int]] = asyncio.get_running_loop().create_future()
        self._wanted[address] = found
        try:
            async with self._lock:
                if self._scanner is None:
                    scanner = BleakScanner(detection_callback=self._detected)
                    await scanner.start()
                    self._scanner = scanner
            try:
                return await asyncio.wait_for(found, within)
            except TimeoutError:
                return None
        finally:
            del self._wanted[address]
            async with self._lock:
                if not self._wanted and self._scanner is not None:
                    scanner, self._scanner = self._scanner, None
                    await scanner.stop()

    def _detected(self, device: BLEDevice, adv: AdvertisementData) -> None:
        found = self._wanted.get(device.address.upper())
        if found is not None and not found.done():
            found.set_result((device, adv.rssi))


class WristLink:
    """Keeps one wrist streaming into `packets` until cancelled.

    `connect_lock` is shared by both links: BlueZ handles one LE connection attempt at
    a time well, two at once badly. `clock` gives session seconds. `lost` and `skipped`
    are counted by the consumer and reported here.
    """

    def __init__(
        self,
        side: Side,
        address: str,
        config: BleConfig,
        *,
        scanner: SharedScanner,
        connect_lock: asyncio.Lock,
        packets: asyncio.Queue[Item],
        clock: Callable[[], float],
        on_status: Callable[[LinkStatus], None],
        device: BLEDevice | None = None,
    ) -> None:
        self.side, self.address, self.config = side, address, config
        self._scanner, self._lock, self._packets = scanner, connect_lock, packets
        self._clock, self._on_status = clock, on_status
        self._device = device
        self._rssi: int | None = None
        self._battery: int | None = None
        self._state = LinkState.SCANNING
        self._streamed_before = False
        self.reconnects = 0
        self.lost = 0
        self.skipped = 0
        self.last_packet = 0.0
        self.kind: Kind | None = None
        self._held: list[RawPacket] | None = None  # data before the stream's decoder is known
        self._disconnected = asyncio.Event()

    @property
    def status(self) -> LinkStatus:
        return LinkStatus(
            side=self.side,
            state=self._state,
            t=self._clock(),
            address=self.address,
            rssi=self._rssi,
            battery=self._battery,
            lost=self.lost,
            skipped=self.skipped,
            reconnects=self.reconnects,
            kind=None if self.kind is None else self.kind.value,
        )

    async def run(self) -> None:
        backoff = _BACKOFF_START
        try:
            while True:
                try:
                    detail = await self._connect_and_stream()
                    backoff = _BACKOFF_START  # it streamed: the next outage starts afresh
                except LINK_ERRORS as e:
                    detail = f"{type(e).__name__}: {e}"
                except ControlPointError as e:
                    detail = str(e)  # written for the user: what the sensor refused, and why
                log.info("%s %s: %s; retrying in %.2f s", self.side, self.address, detail, backoff)
                self._set(LinkState.BACKOFF, detail)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.config.backoff_max)
        finally:
            self._set(LinkState.STOPPED)

    def _set(self, state: LinkState, detail: str = "") -> None:
        self._state = state
        self._on_status(dataclasses.replace(self.status, detail=detail))

    async def _connect_and_stream(self) -> str:
        """Connects and streams; returns why streaming ended, raises if it never began."""
        device = self._device
        self._device = None  # a scanned device is used once; later attempts rescan
        if device is None:
            self._set(LinkState.SCANNING)
            hit = await self._scanner.find(self.address, self.config.scan_timeout)
            if hit is None:
                raise TimeoutError(f"not seen for {self.config.scan_timeout:g} s")
            device, self._rssi = hit
        self._disconnected = asyncio.Event()
        async with self._lock:
            self._set(LinkState.CONNECTING)
            client = await establish_connection(
                BleakClientWithServiceCache,
                device,
                f"{self.side} wrist",
                disconnected_callback=lambda _: self._disconnected.set(),
                max_attempts=self.config.connect_attempts,
            )
        try:
            self._set(LinkState.SUBSCRIBING)
            self.kind = kind_from_services(client)
            driver = driver_for(self.kind, client, self.config, self._on_data)
            self._held = []
            decoder = await driver.start()
            self._begin(decoder, self.kind)
            await self._read_battery(driver)
            if self._streamed_before:
                self.reconnects += 1
            self._streamed_before = True
            self._set(LinkState.STREAMING)
            return await self._watch(driver)
        finally:
            self._held = None
            await self._close(client)

    def _begin(self, decoder: Decoder, kind: Kind) -> None:
        """The stream's decoder goes on the queue, then what arrived while starting."""
        held, self._held = self._held or [], None
        self.last_packet = self._clock()  # the watchdog counts silence from here
        with contextlib.suppress(asyncio.QueueFull):
            self._packets.put_nowait(StreamStart(self.side, decoder, kind))
            for packet in held:
                self._packets.put_nowait(packet)

    async def _watch(self, driver: Driver) -> str:
        """Returns (why) when the link drops or the stream has been silent too long."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        next_battery = loop.time() + cfg.battery_period
        while not self._disconnected.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._disconnected.wait(), cfg.stall_timeout / 4)
            silent = self._clock() - self.last_packet
            if silent > cfg.stall_timeout:
                return f"stream stalled: silent for {silent:.1f} s"
            if loop.time() >= next_battery and not self._disconnected.is_set():
                next_battery = loop.time() + cfg.battery_period
                await self._read_battery(driver)
                self._set(LinkState.STREAMING)
        return "link lost"

    async def _read_battery(self, driver: Driver) -> None:
        battery = await driver.battery()
        if battery is not None:
            self._battery = battery

    async def _close(self, client: BleakClient) -> None:
        # also after the sensor dropped the link: only disconnect() releases the
        # client's own D-Bus connection, a leak of one socket per reconnect otherwise
        with contextlib.suppress(*LINK_ERRORS):
            async with asyncio.timeout(_DISCONNECT_TIMEOUT):
                await client.disconnect()

    def _on_data(self, _: BleakGATTCharacteristic, data: bytearray) -> None:
        # stamp first, as close to the radio as Python gets; decoding is the consumer's
        now = self._clock()
        self.last_packet = now
        packet = RawPacket(self.side, now, bytes(data))
        if self._held is not None:
            self._held.append(packet)
            return
        # if the consumer fell behind, the sequence gap reports what is dropped here as lost
        with contextlib.suppress(asyncio.QueueFull):
            self._packets.put_nowait(packet)
