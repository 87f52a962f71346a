"""A BlueZ pairing agent for Just Works (org.bluez.Agent1), for `mirrorwatch pair`.

Linux only (dbus-fast comes with bleak's BlueZ backend); imported by
sensors/ble_bond.py when it registers the agent. The wrist has neither display nor
keys, so every question but the Just Works authorisation is refused: a sensor that asks
for a passkey or a PIN is not a MirrorWatch wrist.
"""

# No `from __future__ import annotations`: dbus-fast reads the D-Bus signatures from the
# annotations' objects at class creation.
from typing import Any

from dbus_fast import DBusError, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt16, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method

AGENT_PATH = "/org/mirrorwatch/agent"
CAPABILITY = "NoInputNoOutput"


def _refuse() -> None:
    raise DBusError("org.bluez.Error.Rejected", "MirrorWatch wrists pair with Just Works")


class JustWorksAgent(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.bluez.Agent1")

    @dbus_method()
    def Release(self) -> None:
        return None

    @dbus_method()
    def RequestPinCode(self, device: DBusObjectPath) -> DBusStr:
        _refuse()
        return ""

    @dbus_method()
    def DisplayPinCode(self, device: DBusObjectPath, pincode: DBusStr) -> None:
        _refuse()

    @dbus_method()
    def RequestPasskey(self, device: DBusObjectPath) -> DBusUInt32:
        _refuse()
        return 0

    @dbus_method()
    def DisplayPasskey(
        self, device: DBusObjectPath, passkey: DBusUInt32, entered: DBusUInt16
    ) -> None:
        return None

    @dbus_method()
    def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32) -> None:
        _refuse()  # numeric comparison needs a display on the wrist

    @dbus_method()
    def RequestAuthorization(self, device: DBusObjectPath) -> None:
        return None  # Just Works, on a pairing `pair` itself asked for

    @dbus_method()
    def AuthorizeService(self, device: DBusObjectPath, uuid: DBusStr) -> None:
        _refuse()  # incoming profile connections are not ours to allow

    @dbus_method()
    def Cancel(self) -> None:
        return None


async def register(bus: MessageBus) -> None:
    """Export the agent on `bus`, register it and make it BlueZ's default agent."""
    bus.export(AGENT_PATH, JustWorksAgent())
    await call(bus, "RegisterAgent", "os", [AGENT_PATH, CAPABILITY])
    await call(bus, "RequestDefaultAgent", "o", [AGENT_PATH])


async def call(bus: MessageBus, member: str, signature: str, body: list[Any]) -> None:
    """One org.bluez.AgentManager1 method; a D-Bus error is raised as DBusError."""
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path="/org/bluez",
            interface="org.bluez.AgentManager1",
            member=member,
            signature=signature,
            body=body,
        )
    )
    if reply is not None and reply.message_type == MessageType.ERROR:
        detail = str(reply.body[0]) if reply.body else ""
        raise DBusError(reply.error_name or "org.bluez.Error.Failed", detail)
