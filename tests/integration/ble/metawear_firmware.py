"""An emulated MbientLab MetaMotion S (MetaWear firmware, BMI270 IMU).

Written from MbientLab's open protocol as MetaWear-SDK-Cpp documents it
(firmware_notes/metawear.md): one service with a command characteristic (write) and a
notify characteristic; every message `module, register, payload`; reads set bit 7 of the
register and are answered with the same two bytes. Modules: 0x03 accelerometer, 0x13
gyroscope, 0x11 settings (battery). The BMI270's configuration bytes are the chip's own
ACC_CONF / ACC_RANGE / GYR_CONF / GYR_RANGE registers (Bosch BMI270 datasheet): output
data rate code in the low nibble, 100 Hz * 2^(code - 8).

Data processors (module 0x09): it implements the accounter (type 0x11) only, as the SDK
adds it (`09 02 source-module source-register ff attributes 11 config`, answered
`09 02 id`; `09 07 id 01` and `09 03 01` turn its notifications on; `09 06 id` removes
one, `09 08` all). An accounter's samples go out one a notification as `09 03 id, u32
tick, x y z`, the tick being the board's real-time counter at 32768/48 Hz (the SDK's
TICK_TIME_STEP), which runs on its own crystal (`rtc_ppm`), across connections, and
wraps at 2^32: it starts `tick_at_boot` (default 6 s before the wrap, so tests cross it).
Processors stay on the board when the link goes, as on a real board.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from board import Board, G
from wrist_firmware import DIS_TABLE, GattTable

SERVICE = "326a9000-85cb-9195-d9dd-464cfbbae75a"
COMMAND = "326a9001-85cb-9195-d9dd-464cfbbae75a"
NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"
ACC, GYRO, SETTINGS = 0x03, 0x13, 0x11
ACC_PACKED, GYRO_PACKED = 0x05, 0x05  # BMI270 registers of the three-sample messages
ACC_DATA, GYRO_DATA = 0x04, 0x04  # BMI270 registers of one-sample data
PROCESSOR, ACCOUNTER = 0x09, 0x11
TICK_HZ = 32768 / 48


@dataclass
class MetaMotionS(Board):
    gatt_table: ClassVar[GattTable] = [
        (
            SERVICE,
            0x000A,
            [(COMMAND, 0x000B, ["write-without-response", "write"]), (NOTIFY, 0x000D, ["notify"])],
        ),
        DIS_TABLE,
    ]
    advertised_uuids: ClassVar[Sequence[str]] = [SERVICE]
    manufacturer_data: ClassVar[dict[int, bytes]] = {}
    encrypted: ClassVar[dict[str, frozenset[str]]] = {}  # works unbonded

    acc_odr_code: int = 8
    acc_range_code: int = 2
    gyro_odr_code: int = 8
    gyro_range_code: int = 0
    subscribed: set[int] = field(default_factory=set)  # modules whose packed data we send
    enabled: set[int] = field(default_factory=set)  # data interrupts on
    powered: set[int] = field(default_factory=set)  # sensors sampling
    processors: dict[int, int] = field(default_factory=dict)  # accounter id -> module
    processor_notify: set[int] = field(default_factory=set)  # ids whose output is sent
    processors_on: bool = False  # 09 03 01: processor notifications at all
    rtc_ppm: float = 20.0
    tick_at_boot: int = (1 << 32) - round(6 * TICK_HZ)

    def on_link_down(self) -> None:
        # the SDK resets the board's subscriptions on disconnect; sampling stops with them
        self.subscribed.clear()
        self.powered.clear()
        self.processors_on = False

    def read(self, uuid: str) -> bytes:
        return b"MbientLab Inc" if uuid.startswith("00002a29") else b""

    def write(self, uuid: str, value: bytes) -> None:
        if uuid != COMMAND or len(value) < 2:
            return
        module, register, args = value[0], value[1], value[2:]
        if module == PROCESSOR:
            self._processor(register, args)
        elif register & 0x80:
            self._answer(module, register & 0x7F)
        elif register == 0x03 and len(args) == 2 and module in (ACC, GYRO):
            if module == ACC:
                self.acc_odr_code, self.acc_range_code = args[0] & 0x0F, args[1] & 0x03
            else:
                self.gyro_odr_code, self.gyro_range_code = args[0] & 0x0F, args[1] & 0x07
        elif register == (ACC_PACKED if module == ACC else GYRO_PACKED) and args:
            (self.subscribed.add if args[0] else self.subscribed.discard)(module)
        elif register == 0x02 and len(args) == 2:
            (self.enabled.add if args[0] else self.enabled.discard)(module)
        elif register == 0x01 and args:
            (self.powered.add if args[0] else self.powered.discard)(module)

    def _processor(self, register: int, args: bytes) -> None:
        if register == 0x02 and len(args) >= 7 and args[4] == ACCOUNTER:
            source = {(ACC, ACC_DATA): ACC, (GYRO, GYRO_DATA): GYRO}.get((args[0], args[1]))
            if source is not None and args[5:7] == b"\x31\x03":  # time mode, 4 bytes
                pid = next(i for i in range(32) if i not in self.processors)
                self.processors[pid] = source
                self.notify(NOTIFY, bytes([PROCESSOR, 0x02, pid]))
        elif register == 0x07 and len(args) == 2 and args[0] in self.processors:
            (self.processor_notify.add if args[1] else self.processor_notify.discard)(args[0])
        elif register == 0x03 and args:
            self.processors_on = bool(args[0])
        elif register == 0x06 and args:
            self.processors.pop(args[0], None)
            self.processor_notify.discard(args[0])
        elif register == 0x08:
            self.processors.clear()
            self.processor_notify.clear()

    def tick(self, host_t: float) -> int:
        """The real-time counter at host time `host_t`."""
        elapsed = (host_t - self._boot) * (1.0 + self.rtc_ppm * 1e-6)
        return (self.tick_at_boot + int(elapsed * TICK_HZ)) % (1 << 32)

    def _accounter(self, module: int) -> int | None:
        """The id of a notifying accounter on `module`'s data, if any."""
        if not self.processors_on:
            return None
        ids = [i for i, m in self.processors.items() if m == module and i in self.processor_notify]
        return ids[0] if ids else None

    def _answer(self, module: int, register: int) -> None:
        head = bytes([module, 0x80 | register])
        if register == 0x00:  # module info: implementation, revision
            info = {ACC: b"\x04\x00", GYRO: b"\x01\x00", SETTINGS: b"\x00\x0a"}
            self.notify(NOTIFY, head + info.get(module, b""))
        elif module == SETTINGS and register == 0x0C:
            self.notify(NOTIFY, head + bytes([self.battery]) + struct.pack("<H", 4012))

    def _streams(self, module: int) -> bool:
        taken = module in self.subscribed or self._accounter(module) is not None
        return module in self.powered and module in self.enabled and taken

    def rate(self) -> float | None:
        if not self._streams(ACC):
            return None
        return 100.0 * 2.0 ** (self.acc_odr_code - 8)

    def per_packet(self) -> int:
        return 1 if self._accounter(ACC) is not None else 3

    def emit(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> bool:
        lsb_g = 16384 >> self.acc_range_code
        counts = np.clip(np.rint(acc / G * lsb_g), -32768, 32767).astype("<i2")
        acc_id = self._accounter(ACC)
        if acc_id is not None:
            return self._emit_timed(t, acc_id, counts, gyr)
        sent = self.notify(NOTIFY, bytes([ACC, ACC_PACKED]) + counts.tobytes())
        if self._streams(GYRO) and self.gyro_odr_code == self.acc_odr_code:
            lsb_dps = 16.4 * (1 << self.gyro_range_code)
            g = np.clip(np.rint(np.degrees(gyr) * lsb_dps), -32768, 32767).astype("<i2")
            self.notify(NOTIFY, bytes([GYRO, GYRO_PACKED]) + g.tobytes())
        return sent

    def _emit_timed(self, t: np.ndarray, acc_id: int, counts: np.ndarray, gyr: np.ndarray) -> bool:
        """Each sample through its accounter: `09 03 id tick x y z`, acc then gyro."""
        gyro_id = self._accounter(GYRO) if self.gyro_odr_code == self.acc_odr_code else None
        lsb_dps = 16.4 * (1 << self.gyro_range_code)
        g = np.clip(np.rint(np.degrees(gyr) * lsb_dps), -32768, 32767).astype("<i2")
        sent = False
        for i, host_t in enumerate(t):
            stamp = struct.pack("<I", self.tick(float(host_t)))
            sent = self.notify(
                NOTIFY, bytes([PROCESSOR, 0x03, acc_id]) + stamp + counts[i].tobytes()
            )
            if gyro_id is not None and GYRO in self.powered and GYRO in self.enabled:
                self.notify(NOTIFY, bytes([PROCESSOR, 0x03, gyro_id]) + stamp + g[i].tobytes())
        return sent
