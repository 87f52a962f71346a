"""An emulated MbientLab MetaMotion S (MetaWear firmware, BMI270 IMU).

Written from MbientLab's open protocol as MetaWear-SDK-Cpp documents it
(firmware_notes/metawear.md): one service with a command characteristic (write) and a
notify characteristic; every message `module, register, payload`; reads set bit 7 of the
register and are answered with the same two bytes. Modules: 0x03 accelerometer, 0x13
gyroscope, 0x11 settings (battery). The BMI270's configuration bytes are the chip's own
ACC_CONF / ACC_RANGE / GYR_CONF / GYR_RANGE registers (Bosch BMI270 datasheet): output
data rate code in the low nibble, 100 Hz * 2^(code - 8).
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

    def on_link_down(self) -> None:
        # the SDK resets the board's subscriptions on disconnect; sampling stops with them
        self.subscribed.clear()
        self.powered.clear()

    def read(self, uuid: str) -> bytes:
        return b"MbientLab Inc" if uuid.startswith("00002a29") else b""

    def write(self, uuid: str, value: bytes) -> None:
        if uuid != COMMAND or len(value) < 2:
            return
        module, register, args = value[0], value[1], value[2:]
        if register & 0x80:
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

    def _answer(self, module: int, register: int) -> None:
        head = bytes([module, 0x80 | register])
        if register == 0x00:  # module info: implementation, revision
            info = {ACC: b"\x04\x00", GYRO: b"\x01\x00", SETTINGS: b"\x00\x0a"}
            self.notify(NOTIFY, head + info.get(module, b""))
        elif module == SETTINGS and register == 0x0C:
            self.notify(NOTIFY, head + bytes([self.battery]) + struct.pack("<H", 4012))

    def _streams(self, module: int) -> bool:
        return module in self.powered and module in self.enabled and module in self.subscribed

    def rate(self) -> float | None:
        if not self._streams(ACC):
            return None
        return 100.0 * 2.0 ** (self.acc_odr_code - 8)

    def per_packet(self) -> int:
        return 3

    def emit(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> bool:
        lsb_g = 16384 >> self.acc_range_code
        counts = np.clip(np.rint(acc / G * lsb_g), -32768, 32767).astype("<i2")
        sent = self.notify(NOTIFY, bytes([ACC, ACC_PACKED]) + counts.tobytes())
        if self._streams(GYRO) and self.gyro_odr_code == self.acc_odr_code:
            lsb_dps = 16.4 * (1 << self.gyro_range_code)
            g = np.clip(np.rint(np.degrees(gyr) * lsb_dps), -32768, 32767).astype("<i2")
            self.notify(NOTIFY, bytes([GYRO, GYRO_PACKED]) + g.tobytes())
        return sent
