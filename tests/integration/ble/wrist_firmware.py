"""The reference wrist firmware, emulated: what a MirrorWatch IMU board does over GATT.

It is written from firmware_notes/ (gatt.md, packet.md) independently of
sensors/protocols, so a decoder bug cannot hide behind a shared encoder; that both
follow the notes is checked against the notes' own byte examples in
test_firmware_conformance.py. The board
samples from power-on whether or not anyone listens: its tick counter, sample index
and packet sequence number run freely, so packets produced while the link is down
show up as a sequence gap after reconnecting, as on the real board.

Time comes from `clock` (host seconds), which the tests may run faster than real
time; the sensor's crystal runs `drift_ppm` fast against it.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

BASE = "-2f1c-4b8e-9a6d-6d6972726f72"
SERVICE_UUID = f"4d570001{BASE}"
DATA_UUID = f"4d570002{BASE}"
CONTROL_UUID = f"4d570003{BASE}"
CONFIG_UUID = f"4d570004{BASE}"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DIS_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
SERIAL_UUID = "00002a25-0000-1000-8000-00805f9b34fb"
HARDWARE_REV_UUID = "00002a27-0000-1000-8000-00805f9b34fb"
FIRMWARE_REV_UUID = "00002a26-0000-1000-8000-00805f9b34fb"

ACC_RANGES_G = (2, 4, 8, 16)
GYRO_RANGES_DPS = (125, 250, 500, 1000, 2000)
ODRS_HZ = (50, 100, 200, 400)
G = 9.80665

# control point opcodes and reply status codes (gatt.md, "Control point")
OP_START, OP_STOP, OP_SET_ODR, OP_SET_RANGES, OP_SYNC = 0x01, 0x02, 0x03, 0x04, 0x05
STATUS_OK, STATUS_UNSUPPORTED, STATUS_INVALID_ARGUMENT = 0x00, 0x01, 0x02
ARGUMENT_BYTES = {OP_START: 0, OP_STOP: 0, OP_SET_ODR: 2, OP_SET_RANGES: 1, OP_SYNC: 0}
FLAG_GYRO, FLAG_RESTARTED = 0x01, 0x02

Notify = Callable[[str, bytes], None]  # (characteristic UUID, value)
# (service UUID, handle, [(characteristic UUID, handle, flags)])
GattTable = Sequence[tuple[str, int, Sequence[tuple[str, int, Sequence[str]]]]]


class Firmware(Protocol):
    """What the emulated BlueZ needs of a board, whatever its make.

    `encrypted` names, per characteristic UUID, the operations ("read", "write",
    "notify") that need an encrypted link, i.e. a bond (gatt.md, "Security").
    """

    gatt_table: ClassVar[GattTable]
    advertised_uuids: ClassVar[Sequence[str]]
    manufacturer_data: ClassVar[dict[int, bytes]]
    encrypted: ClassVar[dict[str, frozenset[str]]]

    def power_on(self) -> None: ...

    async def power_off(self) -> None: ...

    def link_up(self, notify: Notify) -> None: ...

    def link_down(self) -> None: ...

    def read(self, uuid: str) -> bytes: ...

    def write(self, uuid: str, value: bytes) -> None: ...


DIS_TABLE = (
    DIS_SERVICE_UUID,
    0x0030,
    [
        (MANUFACTURER_UUID, 0x0031, ["read"]),
        (MODEL_UUID, 0x0033, ["read"]),
        (FIRMWARE_REV_UUID, 0x0035, ["read"]),
        (SERIAL_UUID, 0x0037, ["read"]),
        (HARDWARE_REV_UUID, 0x0039, ["read"]),
    ],
)
BATTERY_TABLE = (BATTERY_SERVICE_UUID, 0x0020, [(BATTERY_LEVEL_UUID, 0x0021, ["read", "notify"])])


@dataclass(frozen=True, slots=True)
class SentPacket:
    """What the firmware produced: the truth a test compares the gateway's output with."""

    seq: int
    t_true: np.ndarray  # host seconds at which each sample was taken, shape (n,)
    raw: np.ndarray  # int16 samples as sent, shape (n, 6)
    delivered: bool  # handed to the radio (link up, notifications on, started)


@dataclass
class FirmwareConfig:
    """One board. `samples_per_packet` 10 at 200 Hz = one notification per 50 ms."""

    odr_hz: int = 200
    samples_per_packet: int = 10
    tick_hz: int = 32768
    drift_ppm: float = 0.0
    jitter_s: float = 0.0  # max extra radio delay per notification, uniform, s
    acc_range: int = 2  # index into ACC_RANGES_G
    gyro_range: int = 4  # index into GYRO_RANGES_DPS
    battery: int = 87
    seed: int = 0
    firmware_revision: str = "1.0.0 mw1"  # `<semver> mw1`: profile v1
    serial: str = "EMU-0001"


@dataclass
class WristFirmware:
    """Samples, packs and notifies; reacts to the control point."""

    gatt_table: ClassVar[GattTable] = [
        (
            SERVICE_UUID,
            0x0010,
            [
                (DATA_UUID, 0x0011, ["notify"]),
                (CONTROL_UUID, 0x0014, ["write", "indicate"]),
                (CONFIG_UUID, 0x0017, ["read"]),
            ],
        ),
        BATTERY_TABLE,
        DIS_TABLE,
    ]
    advertised_uuids: ClassVar[Sequence[str]] = [SERVICE_UUID]
    manufacturer_data: ClassVar[dict[int, bytes]] = {}
    # security mode 1 level 2: the IMU data CCCD, the control point (write and CCCD) and
    # the device config; Battery and Device Information stay open for `scan`
    encrypted: ClassVar[dict[str, frozenset[str]]] = {
        DATA_UUID: frozenset({"notify"}),
        CONTROL_UUID: frozenset({"write", "notify"}),
        CONFIG_UUID: frozenset({"read"}),
    }

    config: FirmwareConfig
    clock: Callable[[], float]
    speed: float = 1.0  # the clock's rate against wall time
    sent: list[SentPacket] = field(default_factory=list)
    garbage_sent: int = 0
    _notify: Notify | None = None
    _started: bool = False
    _stalled: bool = False
    _boot: float = 0.0
    _seq: int = 0
    _index: int = 0  # next sample index since boot
    _grid_t: float = 0.0  # host time of sample `_grid_i`: the sample grid's origin
    _grid_i: int = 0
    _next_odr: int | None = None
    _task: asyncio.Task[None] | None = None
    _restarted: bool = False  # flag bit1 in the next packet

    def power_on(self) -> None:
        """Boot: counters from zero, sampling begins. Call on the emulator's loop.

        The first packet after boot says so (flag bit1); if the link is down then,
        as after a crash, the gateway sees the ticks and sequence numbers start over.
        """
        self._boot = self._grid_t = self.clock()
        self._index = self._grid_i = self._seq = 0
        self._restarted = True
        self._rng = np.random.default_rng(self.config.seed)
        self._task = asyncio.get_running_loop().create_task(self._sample_forever())

    async def power_off(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # -- link events, called by the emulated BlueZ device --------------------------

    def link_up(self, notify: Notify) -> None:
        self._notify = notify

    def link_down(self) -> None:
        """The central is gone: notifications off and stopped, as after a real disconnect."""
        self._notify = None
        self._started = False
        self._stalled = False

    def stall(self) -> None:
        """The stream hangs (a stuck sensor FIFO) while the link stays up; a reconnect clears it."""
        self._stalled = True

    def write(self, uuid: str, value: bytes) -> None:
        if uuid == CONTROL_UUID:
            self.write_control(value)

    def write_control(self, value: bytes) -> None:
        """One request, answered by exactly one indication: 0x80|opcode, status[, tick]."""
        op = value[0] if value else 0  # an empty write is answered for opcode 0
        args = value[1:]
        status = STATUS_OK
        extra = b""
        if not value:
            status = STATUS_INVALID_ARGUMENT
        elif op not in ARGUMENT_BYTES:
            status = STATUS_UNSUPPORTED
        elif len(args) != ARGUMENT_BYTES[op]:
            status = STATUS_INVALID_ARGUMENT
        elif op == OP_START:
            self._started = True
        elif op == OP_STOP:
            self._started = False
        elif op == OP_SET_ODR:
            odr = struct.unpack("<H", args)[0]
            if odr in ODRS_HZ:
                self._next_odr = odr
            else:
                status = STATUS_INVALID_ARGUMENT
        elif op == OP_SET_RANGES:
            acc, gyro = args[0] & 0x0F, args[0] >> 4
            if acc < len(ACC_RANGES_G) and gyro < len(GYRO_RANGES_DPS):
                self.config.acc_range, self.config.gyro_range = acc, gyro
            else:
                status = STATUS_INVALID_ARGUMENT
        elif op == OP_SYNC:
            extra = struct.pack("<I", self._tick_at(self.clock()))
        if self._notify is not None:
            self._notify(CONTROL_UUID, bytes([0x80 | op, status]) + extra)

    def device_config(self) -> bytes:
        """The 10-byte device config: what the board streams now, or from its next packet."""
        c = self.config
        odr = c.odr_hz if self._next_odr is None else self._next_odr
        ranges = c.acc_range | c.gyro_range << 4
        # version 1; flags: gyroscope present, gravity included
        return struct.pack("<BBHIBB", 1, FLAG_GYRO, odr, c.tick_hz, ranges, c.samples_per_packet)

    def read(self, uuid: str) -> bytes:
        c = self.config
        if uuid == BATTERY_LEVEL_UUID:
            return bytes([c.battery])
        if uuid == CONFIG_UUID:
            return self.device_config()
        return {
            MANUFACTURER_UUID: b"MirrorWatch (emulated)",
            MODEL_UUID: b"MW-1",
            FIRMWARE_REV_UUID: c.firmware_revision.encode(),
            SERIAL_UUID: c.serial.encode(),
            HARDWARE_REV_UUID: b"B",
        }.get(uuid, b"")

    def send_garbage(self, payload: bytes) -> None:
        """A notification that is not a v1 packet (corrupted or foreign firmware)."""
        if self._notify is not None:
            self._notify(DATA_UUID, payload)
            self.garbage_sent += 1

    # -- sampling -------------------------------------------------------------------

    def _rate(self) -> float:
        """Samples per host second: the crystal's error scales the output data rate."""
        return self.config.odr_hz * (1.0 + self.config.drift_ppm * 1e-6)

    def _tick_at(self, host_t: float) -> int:
        rate = self.config.tick_hz * (1.0 + self.config.drift_ppm * 1e-6)
        return math.floor((host_t - self._boot) * rate) & 0xFFFFFFFF

    def _apply_odr(self) -> None:
        """A new data rate takes effect at the next packet; tick and sample index run on."""
        if self._next_odr is not None and self._next_odr != self.config.odr_hz:
            self._grid_t, self._grid_i = self._sample_time(self._index), self._index
            self.config.odr_hz = self._next_odr
        self._next_odr = None

    def _sample_time(self, index: int) -> float:
        return self._grid_t + (index - self._grid_i) / self._rate()

    async def _sample_forever(self) -> None:
        c = self.config
        while True:
            self._apply_odr()
            first = self._index
            n = c.samples_per_packet
            t_true = self._sample_time(first) + np.arange(n) / self._rate()
            # the packet leaves once its last sample is taken, plus radio delay
            due = float(t_true[-1]) + float(self._rng.uniform(0.0, c.jitter_s))
            delay = (due - self.clock()) / self.speed
            await asyncio.sleep(max(delay, 0.0))
            raw = self._samples(t_true)
            packet = self._pack(first, raw)
            delivered = self._notify is not None and self._started and not self._stalled
            if delivered and self._notify is not None:
                self._notify(DATA_UUID, packet)
            self.sent.append(SentPacket(self._seq, t_true, raw, delivered))
            self._seq = (self._seq + 1) & 0xFFFF
            self._index += n

    def _samples(self, t: np.ndarray) -> np.ndarray:
        """Gravity on z, a slow 1 Hz wrist rotation and sensor noise, quantised to int16."""
        c = self.config
        acc_lsb = 32768 / (ACC_RANGES_G[c.acc_range] * G)
        gyr_lsb = 32768 / math.radians(GYRO_RANGES_DPS[c.gyro_range])
        phase = 2 * math.pi * 1.0 * (t - self._boot)
        n = t.shape[0]
        acc = np.stack([0.5 * np.sin(phase), 0.5 * np.cos(phase), np.full(n, G)], axis=1)
        gyr = np.stack([0.3 * np.sin(phase), np.zeros(n), 0.3 * np.cos(phase)], axis=1)
        acc += self._rng.normal(0.0, 0.02, (n, 3))
        gyr += self._rng.normal(0.0, 0.005, (n, 3))
        raw = np.concatenate([acc * acc_lsb, gyr * gyr_lsb], axis=1)
        return np.clip(np.round(raw), -32768, 32767).astype(np.int16)

    def _pack(self, first: int, raw: np.ndarray) -> bytes:
        c = self.config
        flags = FLAG_GYRO | (FLAG_RESTARTED if self._restarted else 0)  # gravity included
        self._restarted = False
        tick = self._tick_at(self._sample_time(first))
        ranges = c.acc_range | c.gyro_range << 4
        header = struct.pack(
            "<BBHIIHBB", 1, flags, self._seq, tick, c.tick_hz, c.odr_hz, raw.shape[0], ranges
        )
        return header + raw.astype("<i2").tobytes()
