"""A BlueZ stand-in on a private D-Bus system bus, with emulated wrists behind it.

bleak's BlueZ backend runs unmodified against it: bleak talks D-Bus to "org.bluez"
on the bus named by DBUS_SYSTEM_BUS_ADDRESS, which here is a dbus-daemon of our own
and this module owns "org.bluez" on it. It exports what bleak and
bleak-retry-connector read and call (see tests/README.md, "BLE emulation"): the
ObjectManager tree, Adapter1 discovery, Device1 Connect/Disconnect with Connected
and ServicesResolved, GATT service/characteristic/descriptor objects, ReadValue,
WriteValue, StartNotify and notifications as PropertiesChanged on Value; and bonding:
AgentManager1, Device1.Pair with Paired/Bonded/Trusted, Adapter1.RemoveDevice, and
characteristics that answer NotPermitted "Not paired" on a link without encryption
(what BlueZ makes of the ATT error Insufficient Authentication).

Bonding is emulated at the D-Bus surface only: there is no SMP underneath, so neither
the keys nor the kernel's own security elevation (BlueZ retrying an ATT request after
pairing by itself) are there; see firmware_notes/gatt.md, "Bonding".

The emulator runs on its own event loop in a thread, so the code under test (in the
main thread, or in a `mirrorwatch` subprocess) reaches it only through the bus.
"""

import asyncio
import contextlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

from dbus_fast import BusType, DBusError, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt16,
)
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_method, dbus_property
from wrist_firmware import Firmware

T = TypeVar("T")
DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusManufacturerData = Annotated[dict[int, Variant], DBusSignature("a{qv}")]

ADAPTER_PATH = "/org/bluez/hci0"
CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"
ADVERTISING_INTERVAL_S = 0.1  # how often a discovering adapter reports an advertiser's RSSI
CONNECT_DELAY_S = 0.03  # connection setup plus GATT discovery on a real link
ABSENT_CONNECT_TIMEOUT_S = 2.0  # Connect to a device that is not advertising fails after this
PAIR_DELAY_S = 0.05  # LE Secure Connections pairing: key exchange and key distribution
AGENT_CAPABILITIES = (
    "",
    "DisplayOnly",
    "DisplayYesNo",
    "KeyboardOnly",
    "NoInputNoOutput",
    "KeyboardDisplay",
)

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


@contextlib.contextmanager
def private_system_bus() -> Iterator[str]:
    """Start a dbus-daemon of our own; yields its address for DBUS_SYSTEM_BUS_ADDRESS."""
    with tempfile.TemporaryDirectory(prefix="mw-dbus-") as tmp:
        socket = Path(tmp) / "system_bus_socket"
        config = Path(tmp) / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket), encoding="utf-8")
        daemon = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address"],
            stdout=subprocess.PIPE,
            # it warns that it cannot raise its fd limit unprivileged: harmless here
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert daemon.stdout is not None
            address = daemon.stdout.readline().strip()
            if not address:
                raise RuntimeError("dbus-daemon did not start")
            yield address
        finally:
            daemon.terminate()
            daemon.wait(timeout=10)
            if daemon.stdout is not None:
                daemon.stdout.close()


class Characteristic(ServiceInterface):
    def __init__(self, path: str, uuid: str, service: str, flags: list[str], device: "Device"):
        super().__init__("org.bluez.GattCharacteristic1")
        self.path, self.uuid, self.service, self.flags = path, uuid, service, flags
        self.device = device
        self.value = b""
        self.notifying = False

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self.service

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> DBusStrList:
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> DBusUInt16:
        return 247

    def _secure(self, operation: str) -> None:
        """The board answers an unencrypted request for a protected attribute with ATT
        Insufficient Authentication, which BlueZ passes on as NotPermitted "Not paired"."""
        protected = operation in self.device.firmware.encrypted.get(self.uuid, ())
        if protected and not self.device.encrypted:
            raise DBusError("org.bluez.Error.NotPermitted", "Not paired")

    @dbus_method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        self._secure("read")
        self.value = self.device.firmware.read(self.uuid)
        return self.value

    @dbus_method()
    def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        if not {"write", "write-without-response"} & set(self.flags):
            raise DBusError("org.bluez.Error.NotPermitted", "Write not permitted")
        self._secure("write")
        self.device.firmware.write(self.uuid, bytes(value))

    @dbus_method()
    def StartNotify(self) -> None:
        self._secure("notify")  # the CCCD write
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})

    @dbus_method()
    def StopNotify(self) -> None:
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})

    def notify(self, value: bytes) -> None:
        if self.notifying:
            self.value = value
            self.emit_properties_changed({"Value": value})


class GattService(ServiceInterface):
    def __init__(self, uuid: str, device: str):
        super().__init__("org.bluez.GattService1")
        self.uuid, self.device = uuid, device

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> DBusObjectPath:
        return self.device

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> Annotated[list[str], DBusSignature("ao")]:
        return []


class Descriptor(ServiceInterface):
    def __init__(self, uuid: str, characteristic: str):
        super().__init__("org.bluez.GattDescriptor1")
        self.uuid, self.characteristic = uuid, characteristic

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Characteristic(self) -> DBusObjectPath:
        return self.characteristic

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return b""

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> DBusStrList:
        return ["read", "write"]


class Device(ServiceInterface):
    """org.bluez.Device1 of one emulated wrist, and its link and GATT tree."""

    def __init__(self, emulator: "BluezEmulator", address: str, name: str, firmware: Firmware):
        super().__init__("org.bluez.Device1")
        # not `self.name`: ServiceInterface keeps the D-Bus interface name there
        self.emulator, self.address, self.alias, self.firmware = emulator, address, name, firmware
        self.path = f"{ADAPTER_PATH}/dev_{address.upper().replace(':', '_')}"
        self.connected = False
        self.services_resolved = False
        self.in_range = True
        self.rssi = -55
        self.exported = False
        self.connects = 0
        # bonding: BlueZ's stored keys, the wrist's, its 60 s pairing window after a
        # button press (open: the tests press it), and whether this link is encrypted
        self.host_bond = False
        self.peer_bond = False
        self.trusted = False
        self.pairing_window = True
        self.encrypted = False
        self.pairings = 0
        self._characteristics: dict[str, Characteristic] = {}
        self._gatt_paths: list[str] = []

    @property
    def advertising(self) -> bool:
        return self.in_range and not self.connected

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self.alias

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return self.alias

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> DBusObjectPath:
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> DBusBool:
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> DBusBool:
        return self.services_resolved

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> DBusBool:
        return self.host_bond

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> DBusBool:
        return self.host_bond

    @dbus_property()
    def Trusted(self) -> DBusBool:
        return self.trusted

    @Trusted.setter
    def Trusted(self, value: DBusBool) -> None:
        self.trusted = value
        self.emit_properties_changed({"Trusted": value})

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> DBusInt16:
        return self.rssi

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrList:
        return list(self.firmware.advertised_uuids)

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> DBusManufacturerData:
        return {k: Variant("ay", v) for k, v in self.firmware.manufacturer_data.items()}

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> DBusDict:
        return {}

    @dbus_method()
    async def Connect(self) -> None:
        await self.connect()

    async def connect(self) -> None:
        if self.connected:
            return
        if not self.in_range:
            await asyncio.sleep(ABSENT_CONNECT_TIMEOUT_S)
            raise DBusError("org.bluez.Error.Failed", "Connection timed out")
        await asyncio.sleep(CONNECT_DELAY_S)
        self.connected = True
        self.connects += 1
        # a bonded central re-encrypts with the stored key; a wrist that lost its key
        # (reset, bonded elsewhere) leaves the link unencrypted
        self.encrypted = self.host_bond and self.peer_bond
        self.emit_properties_changed({"Connected": True})
        self._export_gatt()
        self.services_resolved = True
        self.emit_properties_changed({"ServicesResolved": True})
        self.firmware.link_up(self._notify)

    @dbus_method()
    def Disconnect(self) -> None:
        self.drop_link()

    @dbus_method()
    async def Pair(self) -> None:
        """LE Secure Connections, Just Works: the wrist has no display or keys.

        As BlueZ: an agent must be registered (it is not asked anything, since the
        pairing was asked for), the device is connected first if need be, and Paired,
        Bonded and Trusted change before the reply.
        """
        if self.host_bond:
            raise DBusError("org.bluez.Error.AlreadyExists", "Already Exists")
        await self.connect()
        await asyncio.sleep(PAIR_DELAY_S)
        if self.emulator.agents.default is None or not self.pairing_window:
            # BlueZ logs "No agent available for request type 2" for the first; the
            # wrist's SMP Pairing Failed for the second: both end the same on D-Bus
            raise DBusError("org.bluez.Error.AuthenticationFailed", "Authentication Failed")
        self.host_bond = self.peer_bond = self.trusted = True
        self.encrypted = True
        self.pairings += 1
        self.emit_properties_changed({"Paired": True, "Bonded": True, "Trusted": True})

    def forget(self) -> None:
        """Adapter1.RemoveDevice: BlueZ drops its keys and the object (rediscovered later)."""
        self.drop_link()
        self.host_bond = self.trusted = False
        if self.exported:
            self.emulator.bus.unexport(self.path)
            self.exported = False

    def drop_link(self) -> None:
        """The link ends (central's request or supervision timeout), as BlueZ reports it."""
        if not self.connected:
            return
        self.firmware.link_down()
        self.services_resolved = False
        self.emit_properties_changed({"ServicesResolved": False})
        for path in reversed(self._gatt_paths):
            self.emulator.bus.unexport(path)
        self._gatt_paths.clear()
        self._characteristics.clear()
        self.connected = False
        self.encrypted = False
        self.emit_properties_changed({"Connected": False})

    def _notify(self, uuid: str, value: bytes) -> None:
        characteristic = self._characteristics.get(uuid)
        if characteristic is not None:
            characteristic.notify(value)

    def _export_gatt(self) -> None:
        bus = self.emulator.bus
        # a notifying characteristic gets its CCCD descriptor at handle + 1, as on a real
        # GATT server
        for service_uuid, handle, characteristics in self.firmware.gatt_table:
            service_path = f"{self.path}/service{handle:04x}"
            bus.export(service_path, GattService(service_uuid, self.path))
            self._gatt_paths.append(service_path)
            for uuid, char_handle, flags in characteristics:
                char_path = f"{service_path}/char{char_handle:04x}"
                characteristic = Characteristic(char_path, uuid, service_path, flags, self)
                bus.export(char_path, characteristic)
                self._gatt_paths.append(char_path)
                self._characteristics[uuid] = characteristic
                if "notify" in flags or "indicate" in flags:
                    desc_path = f"{char_path}/desc{char_handle + 1:04x}"
                    bus.export(desc_path, Descriptor(CCCD_UUID, char_path))
                    self._gatt_paths.append(desc_path)


class Adapter(ServiceInterface):
    def __init__(self, emulator: "BluezEmulator"):
        super().__init__("org.bluez.Adapter1")
        self.emulator = emulator
        self.discovering = False

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return "00:1A:7D:DA:71:13"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return "mirrorwatch-gateway"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> DBusStrList:
        return ["central", "peripheral"]

    @dbus_method()
    def SetDiscoveryFilter(self, properties: DBusDict) -> None:
        return None

    @dbus_method()
    def StartDiscovery(self) -> None:
        # BlueZ counts discovery sessions per client; one shared flag is enough here
        # because bleak serialises its scanners through one manager
        self.discovering = True
        self.emit_properties_changed({"Discovering": True})

    @dbus_method()
    def StopDiscovery(self) -> None:
        self.discovering = False
        self.emit_properties_changed({"Discovering": False})

    @dbus_method()
    def RemoveDevice(self, device: DBusObjectPath) -> None:
        for d in self.emulator.devices.values():
            if d.path == device:
                d.forget()
                return
        raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")


class AgentManager(ServiceInterface):
    """org.bluez.AgentManager1 at /org/bluez: who answers pairing questions.

    Agents are told apart by object path only: dbus-fast hands a method no sender, so
    the emulator cannot tell two clients' agents at one path apart, nor drop an agent
    whose client left the bus without unregistering it, as BlueZ does.
    """

    def __init__(self) -> None:
        super().__init__("org.bluez.AgentManager1")
        self.registered: dict[str, str] = {}  # path -> capability
        self._defaults: list[str] = []  # newest last: BlueZ falls back to the previous one

    @property
    def default(self) -> str | None:
        return self._defaults[-1] if self._defaults else None

    @dbus_method()
    def RegisterAgent(self, agent: DBusObjectPath, capability: DBusStr) -> None:
        if capability not in AGENT_CAPABILITIES:
            raise DBusError("org.bluez.Error.InvalidArguments", "Invalid Arguments in method call")
        if agent in self.registered:
            raise DBusError("org.bluez.Error.AlreadyExists", "Already Exists")
        self.registered[agent] = capability

    @dbus_method()
    def UnregisterAgent(self, agent: DBusObjectPath) -> None:
        if self.registered.pop(agent, None) is None:
            raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")
        self._defaults = [a for a in self._defaults if a != agent]

    @dbus_method()
    def RequestDefaultAgent(self, agent: DBusObjectPath) -> None:
        if agent not in self.registered:
            raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")
        self._defaults = [a for a in self._defaults if a != agent] + [agent]


class BluezEmulator:
    """Owns "org.bluez" on the bus; wrists are added with `add_wrist`."""

    def __init__(self, bus_address: str):
        self.bus_address = bus_address
        self.bus: MessageBus  # made in `start`, on the emulator's loop
        self.adapter = Adapter(self)
        self.agents = AgentManager()
        self.devices: dict[str, Device] = {}
        self._advertiser: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.bus = MessageBus(bus_address=self.bus_address, bus_type=BusType.SYSTEM)
        await self.bus.connect()
        self.bus.export("/org/bluez", self.agents)
        self.bus.export(ADAPTER_PATH, self.adapter)
        await self.bus.request_name("org.bluez")
        self._advertiser = asyncio.get_running_loop().create_task(self._advertise())

    async def stop(self) -> None:
        if self._advertiser is not None:
            self._advertiser.cancel()
            await asyncio.gather(self._advertiser, return_exceptions=True)
        for device in self.devices.values():
            await device.firmware.power_off()
        self.bus.disconnect()

    def add_wrist(self, address: str, name: str, firmware: Firmware) -> Device:
        device = Device(self, address, name, firmware)
        self.devices[address] = device
        firmware.power_on()
        return device

    async def _advertise(self) -> None:
        """While discovering, report each advertiser in range, as BlueZ does on every ADV."""
        while True:
            await asyncio.sleep(ADVERTISING_INTERVAL_S)
            if not self.adapter.discovering:
                continue
            for device in self.devices.values():
                if not device.advertising:
                    continue
                if not device.exported:
                    self.bus.export(device.path, device)
                    device.exported = True
                else:
                    device.rssi = -55 if device.rssi != -55 else -56
                    device.emit_properties_changed({"RSSI": device.rssi})


class EmulatorThread:
    """An event loop in a thread for the emulator; `run` executes a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def with_system_bus(address: str) -> dict[str, str]:
    """The environment a `mirrorwatch` subprocess needs to find the emulated BlueZ."""
    return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}
