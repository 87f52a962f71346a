"""What each make of wrist sensor needs on a fresh connection to stream, and its battery.

One driver per kind: MirrorWatch IMU profile (firmware_notes/gatt.md), Polar PMD
(polar_pmd.md), MetaWear (metawear.md). A driver subscribes, configures and starts the
stream, and returns the decoder for what the sensor now sends. How a make is recognised
and which decoder reads it is its profile (sensors/protocols/profiles.py); the bytes and
their meaning live in sensors/protocols/; this module only talks bleak. A new make adds
its profile there and its driver to `DRIVERS` here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakDBusError

from sensors.ble_config import BleConfig
from sensors.protocols import metawear as mw
from sensors.protocols import mirrorwatch_control as mwc
from sensors.protocols import polar_pmd as pmd
from sensors.protocols import polar_pmd_control as pmdc
from sensors.protocols.base import Decoder, MalformedPacket
from sensors.protocols.mirrorwatch import MirrorWatchDecoder
from sensors.protocols.mirrorwatch_control import CONTROL_UUID as MW_CONTROL_UUID
from sensors.protocols.mirrorwatch_control import DATA_UUID as MW_DATA_UUID
from sensors.protocols.profiles import Kind, from_services

log = logging.getLogger(__name__)
T = TypeVar("T")

BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION_UUID = "00002a26-0000-1000-8000-00805f9b34fb"  # Device Information
_REPLY_TIMEOUT = 2.0  # s for a control point answer; sensors answer within a few events
# what BlueZ answers when the sensor refuses an unencrypted link (ATT errors 0x05, 0x0F,
# 0x0C become NotPermitted "Not paired"; 0x08 NotAuthorized)
SECURITY_ERRORS = ("org.bluez.Error.NotPermitted", "org.bluez.Error.NotAuthorized")


class ControlPointError(Exception):
    """The sensor refused or did not answer a command, or is not what we can stream from."""


class NotBonded(ControlPointError):
    """The sensor wants an encrypted link, and this gateway holds no bond with it."""

    def __init__(self) -> None:
        super().__init__(
            "not bonded with this gateway: run `mirrorwatch pair --left ADDR --right ADDR` "
            "with the wrist near (press its button first to open its pairing window)"
        )


async def secured(call: Awaitable[T]) -> T:
    """`call`, with BlueZ's answer to a missing bond turned into NotBonded."""
    try:
        return await call
    except BleakDBusError as e:
        if e.dbus_error in SECURITY_ERRORS:
            raise NotBonded from None
        raise


def kind_from_services(client: BleakClient) -> Kind:
    """The kind a connected sensor's GATT table says it is (sensors/protocols/profiles.py)."""
    found = from_services(lambda uuid: client.services.get_service(uuid) is not None)
    if found is None:
        raise ControlPointError("no MirrorWatch, Polar PMD or MetaWear service on this device")
    return found.kind


class _Replies:
    """Answers the sensor sends on its control path, waited for by a predicate."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()

    def put(self, _: BleakGATTCharacteristic | None, data: bytearray | bytes) -> None:
        self._queue.put_nowait(bytes(data))

    async def wait(self, match: Callable[[bytes], bool], what: str) -> bytes:
        try:
            async with asyncio.timeout(_REPLY_TIMEOUT):
                while True:
                    reply = await self._queue.get()
                    if match(reply):
                        return reply
        except TimeoutError:
            raise ControlPointError(f"no answer to {what} within {_REPLY_TIMEOUT:g} s") from None


OnData = Callable[[BleakGATTCharacteristic, bytearray], None]


class Driver:
    """Starts one kind's stream on a connected client; `battery()` reads the charge (%)."""

    kind: Kind

    def __init__(self, client: BleakClient, config: BleConfig, on_data: OnData) -> None:
        self.client, self.config, self.on_data = client, config, on_data
        self.replies = _Replies()

    async def start(self) -> Decoder:
        """Subscribe, configure and start; the decoder for what the sensor now sends.

        Notifications that arrive before this returns are held by the link and decoded
        with the returned decoder.
        """
        raise NotImplementedError

    async def battery(self) -> int | None:
        """The standard Battery Level characteristic, where the sensor has one."""
        if self.client.services.get_characteristic(BATTERY_LEVEL_UUID) is None:
            return None
        value = await self.client.read_gatt_char(BATTERY_LEVEL_UUID)
        return int(value[0]) if value else None


class MirrorWatchDriver(Driver):
    kind = Kind.MIRRORWATCH

    def __init__(self, client: BleakClient, config: BleConfig, on_data: OnData) -> None:
        super().__init__(client, config, on_data)
        self._decoder = MirrorWatchDecoder()  # one for every connection: seq runs on

    async def start(self) -> Decoder:
        """gatt.md, "Behaviour: connect": check the firmware's profile version, subscribe,
        set the odr, read the device config and check it, start."""
        await self._check_firmware()
        await secured(self.client.start_notify(MW_CONTROL_UUID, self.replies.put))
        await secured(self.client.start_notify(MW_DATA_UUID, self.on_data))
        odr = self.config.odr_hz
        await self._command(mwc.Command(mwc.Opcode.SET_ODR, odr_hz=odr))
        config = await self._device_config()
        payload = self.client.services.get_characteristic(MW_DATA_UUID)
        att_payload = payload.max_write_without_response_size if payload is not None else 0
        if (problem := mwc.check_config(config, odr, att_payload)) is not None:
            raise ControlPointError(problem)
        await self._command(mwc.Command(mwc.Opcode.START))
        return self._decoder

    async def _check_firmware(self) -> None:
        """Device Information's Firmware Revision String says which profile version it is."""
        if self.client.services.get_characteristic(FIRMWARE_REVISION_UUID) is None:
            return  # optional in the GATT table's sense; packets carry their version too
        raw = bytes(await self.client.read_gatt_char(FIRMWARE_REVISION_UUID))
        text = raw.decode("utf-8", errors="replace")
        if (problem := mwc.check_firmware_revision(text)) is not None:
            raise ControlPointError(problem)

    async def _device_config(self) -> mwc.DeviceConfig:
        raw = bytes(await secured(self.client.read_gatt_char(mwc.CONFIG_UUID)))
        try:
            return mwc.parse_config(raw)
        except MalformedPacket as e:
            raise ControlPointError(f"device config {raw.hex(' ')}: {e}") from None

    async def _command(self, command: mwc.Command) -> None:
        """Write to the control point and wait for its indicated reply."""
        data = mwc.encode_command(command)
        await secured(self.client.write_gatt_char(MW_CONTROL_UUID, data, response=True))
        what = f"{command.opcode.name.lower()} ({data.hex(' ')})"
        raw = await self.replies.wait(lambda r: r[:1] == bytes([0x80 | data[0]]), what)
        try:
            reply = mwc.parse_response(raw)
        except MalformedPacket as e:
            raise ControlPointError(f"answer {raw.hex(' ')} to {what}: {e}") from None
        if reply.status is not mwc.Status.OK:
            raise ControlPointError(f"{what} refused: {reply.status.name.lower()}")


class PolarDriver(Driver):
    """PMD: ask each stream's settings, pick rate and ranges, start with them.

    Rates above the 52 Hz a Verity Sense offers by default need its SDK mode, which is
    switched on when the wanted rate is not offered (and answers ERROR_NOT_SUPPORTED on
    sensors without it, leaving the default rates).
    """

    kind = Kind.POLAR
    ACC_RANGE_G = 8  # mirror movements stay far below; the smallest step that holds a fall
    GYRO_RANGE_DPS = 2000

    async def start(self) -> Decoder:
        await self.client.start_notify(pmd.CONTROL_UUID, self.replies.put)
        await self.client.start_notify(pmd.DATA_UUID, self.on_data)
        features = pmdc.parse_features(bytes(await self.client.read_gatt_char(pmd.CONTROL_UUID)))
        if pmd.Measurement.ACC not in features:
            raise ControlPointError("this Polar sensor has no accelerometer stream")
        gyro = pmd.Measurement.GYRO in features
        kinds = [pmd.Measurement.ACC, *([pmd.Measurement.GYRO] if gyro else [])]
        offered = {m: await self._settings(m) for m in kinds}
        rate = self._rate(offered)
        if rate != self.config.odr_hz and _far(rate, self.config.odr_hz) and await self._sdk():
            offered = {m: await self._settings(m) for m in kinds}
            rate = self._rate(offered)
        for m in kinds:
            await self._request(pmdc.Opcode.STOP, m, allow=_NOT_RUNNING)
        factors = {}
        for m in kinds:
            wanted = self.ACC_RANGE_G if m is pmd.Measurement.ACC else self.GYRO_RANGE_DPS
            chosen = _choose(offered[m], rate, wanted)
            response = await self._request(pmdc.Opcode.START, m, pmdc.encode_settings(chosen))
            factors[m] = pmdc.factor(pmdc.parse_settings(response.params))
        log.info("Polar: %d Hz, factors %s", rate, factors)
        return pmd.PolarPmdDecoder(
            sample_rate=float(rate),
            acc_factor=factors[pmd.Measurement.ACC],
            gyr_factor=factors.get(pmd.Measurement.GYRO, 1.0),
            gyro=gyro,
        )

    def _rate(self, offered: dict[pmd.Measurement, dict[pmdc.SettingType, tuple[int, ...]]]) -> int:
        """The offered rate nearest the configured one, common to every stream."""
        rates = [set(s.get(pmdc.SettingType.SAMPLE_RATE, ())) for s in offered.values()]
        common = set.intersection(*rates)
        if not common:
            raise ControlPointError("no sample rate common to accelerometer and gyroscope")
        return _closest(self.config.odr_hz, common)

    async def _sdk(self) -> bool:
        response = await self._request(
            pmdc.Opcode.START,
            SDK_MODE,
            allow=(pmdc.PmdStatus.ALREADY_IN_STATE, pmdc.PmdStatus.NOT_SUPPORTED),
        )
        return response.status != pmdc.PmdStatus.NOT_SUPPORTED

    async def _settings(self, m: int) -> dict[pmdc.SettingType, tuple[int, ...]]:
        response = await self._request(pmdc.Opcode.GET_SETTINGS, m)
        return pmdc.parse_settings(response.params)

    async def _request(
        self,
        opcode: pmdc.Opcode,
        measurement: int,
        settings: bytes = b"",
        allow: tuple[pmdc.PmdStatus, ...] = (),
    ) -> pmdc.PmdResponse:
        """Write a request, gather its answer (several indications when `more` is set)."""
        request = pmdc.encode_request(opcode, measurement, settings)
        await self.client.write_gatt_char(pmd.CONTROL_UUID, request, response=True)
        params = b""
        while True:
            raw = await self.replies.wait(
                lambda r: len(r) >= 4 and r[0] == pmdc.RESPONSE_CODE and r[1] == opcode,
                f"PMD request {request.hex()}",
            )
            try:
                response = pmdc.parse_response(raw)
            except MalformedPacket as e:
                raise ControlPointError(f"PMD answer {raw.hex()}: {e}") from None
            params += response.params
            if not response.more:
                break
        if not response.ok and response.status not in allow:
            try:
                name = pmdc.PmdStatus(response.status).name
            except ValueError:
                name = str(response.status)
            raise ControlPointError(f"PMD request {request.hex()} refused: {name}")
        return pmdc.PmdResponse(opcode, measurement, response.status, False, params)


SDK_MODE = 9  # PMD measurement type that switches SDK mode on
# what a stop of a stream that is not running may answer (the SDK never sends one)
_NOT_RUNNING = (pmdc.PmdStatus.ALREADY_IN_STATE, pmdc.PmdStatus.INVALID_STATE)


class MetaWearDriver(Driver):
    """Module info, configure, subscribe packed data, start (gyroscope, then acc)."""

    kind = Kind.METAWEAR

    def __init__(self, client: BleakClient, config: BleConfig, on_data: OnData) -> None:
        super().__init__(client, config, on_data)
        self._chip = mw.Chip.BMI160

    def _notified(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        # one characteristic carries data and replies: route, nothing more, in the callback
        if mw.is_data(data, self._chip):
            self.on_data(char, data)
        else:
            self.replies.put(char, data)

    async def start(self) -> Decoder:
        await self.client.start_notify(mw.NOTIFY_UUID, self._notified)
        acc_info = await self._read(mw.ACC, 0x80)
        try:
            self._chip = mw.Chip(acc_info[2]) if len(acc_info) > 2 else mw.Chip.BMI160
        except ValueError:
            raise ControlPointError(f"unknown accelerometer type {acc_info[2]}") from None
        gyro = len(await self._read(mw.GYRO, 0x80)) > 2  # an empty answer: no such module
        odr = _closest(self.config.odr_hz, mw.ODR_CODES)
        # up to 100 Hz each sample comes with the board's clock (accounters); faster
        # needs packed data, which carries no time
        timed = odr <= mw.MAX_TIMED_HZ
        setup = mw.MetaWearSetup(chip=self._chip, odr_hz=odr, gyro=gyro, timed=timed)
        for command in setup.stop() + setup.configure():
            await self._write(command)
        decoder: Decoder = mw.MetaWearDecoder(setup)
        if timed:
            decoder = mw.MetaWearTimedDecoder(setup, await self._accounters(setup))
        for command in setup.start():
            await self._write(command)
        return decoder

    async def _accounters(self, setup: mw.MetaWearSetup) -> dict[int, int]:
        """Creates one accounter per sensor; module -> the processor id the board gave.

        Processors outlive a connection on the board: the ones of earlier connections
        are removed first (REMOVE_ALL, `09 08`), so they cannot pile up or send twice.
        """
        await self._write(bytes([mw.PROCESSOR, 0x08]))
        ids: dict[int, int] = {}
        for command in setup.accounters():
            await self._write(command)
            reply = await self.replies.wait(
                lambda r: len(r) >= 3 and r[0] == mw.PROCESSOR and r[1] == 0x02,
                "accounter id",
            )
            ids[command[2]] = reply[2]
        for pid in ids.values():
            await self._write(bytes([mw.PROCESSOR, 0x07, pid, 0x01]))  # notify this one
        await self._write(bytes([mw.PROCESSOR, 0x03, 0x01]))  # processor notifications on
        return ids

    async def battery(self) -> int | None:
        reply = await self._read(mw.SETTINGS, 0x8C & 0x7F)
        return mw.battery_charge(reply)

    async def _write(self, command: bytes) -> None:
        await self.client.write_gatt_char(mw.COMMAND_UUID, command, response=True)

    async def _read(self, module: int, register: int) -> bytes:
        await self._write(bytes([module, 0x80 | register]))
        return await self.replies.wait(
            lambda r: len(r) >= 2 and r[0] == module and r[1] == 0x80 | register,
            f"read of {module:02x} {register:02x}",
        )


DRIVERS: dict[Kind, type[Driver]] = {
    d.kind: d for d in (MirrorWatchDriver, PolarDriver, MetaWearDriver)
}


def driver_for(kind: Kind, client: BleakClient, config: BleConfig, on_data: OnData) -> Driver:
    return DRIVERS[kind](client, config, on_data)


def _closest(target: int, values: Iterable[int]) -> int:
    """The value nearest `target`; the larger on a tie (more samples, never fewer)."""
    return min(values, key=lambda v: (abs(v - target), -v))


def _choose(
    offered: dict[pmdc.SettingType, tuple[int, ...]], rate: int, wanted_range: int
) -> dict[pmdc.SettingType, int | float]:
    """Start settings: the rate, the finest resolution, the range nearest `wanted_range`
    (the larger on a tie), three channels where the sensor lists channels."""
    chosen: dict[pmdc.SettingType, int | float] = {pmdc.SettingType.SAMPLE_RATE: rate}
    if resolutions := offered.get(pmdc.SettingType.RESOLUTION):
        chosen[pmdc.SettingType.RESOLUTION] = max(resolutions)
    if ranges := offered.get(pmdc.SettingType.RANGE):
        chosen[pmdc.SettingType.RANGE] = _closest(wanted_range, ranges)
    if channels := offered.get(pmdc.SettingType.CHANNELS):
        chosen[pmdc.SettingType.CHANNELS] = 3 if 3 in channels else max(channels)
    return chosen


def _far(rate: int, target: int) -> bool:
    """Whether `rate` is more than 10 % off `target` (52 Hz for 50 is near enough)."""
    return abs(rate - target) > 0.1 * target
