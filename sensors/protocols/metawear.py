"""MbientLab MetaWear (MetaMotion R/RL/C/S): commands and accelerometer/gyroscope data.

Sources (firmware_notes/metawear.md): MetaWear-SDK-Cpp (github.com/mbientlab/
MetaWear-SDK-Cpp): metawearboard.cpp (GATT UUIDs), accelerometer_bosch.cpp and
_register.h, gyro_bosch.cpp and _register.h, settings.cpp, and the SDK's own unit tests
test/test_accelerometer_bmi160.py, test_accelerometer_bmi270.py, test_gyro_bmi160.py,
test_settings.py, whose bytes tests/sensors/protocols/test_metawear.py replays.

Every message, both ways, is `u8 module, u8 register, payload`; a read sets bit 7 of the
register and is answered with the same two bytes. Modules: 0x03 accelerometer, 0x13
gyroscope, 0x11 settings (battery: read 0x8c -> u8 charge %, u16 mV). Data, all int16 LE
x y z:

    chip    acc data  acc packed  gyro data  gyro packed    (packed: 3 samples in one)
    BMI160  03 04     03 1c       13 05      13 07
    BMI270  03 04     03 05       13 04      13 05

acc value / (16384 >> range code) = g for ranges 2/4/8/16 g; gyro value / LSB per deg/s,
16.4 (2000 deg/s) ... 262.4 (125 deg/s). The chip is told by the module info read
(`03 80` -> `03 80 implementation revision`: accelerometer 1 BMI160, 4 BMI270).

Plain streamed data carries no timestamp (the SDK stamps it with the host clock on
arrival); a Frame's tick is then the paired sample's index since the stream started, at
the nominal rate, and the gateway's SensorClock fits the real rate (the chip's
oscillator) against the arrival times. Up to 100 Hz the gateway instead routes each
sensor through an "accounter" data processor (module 0x09, type 0x11, time mode), which
puts the board's real-time counter in front of every sample: `09 03 id, u32 tick, x y z`
(MetaWear-SDK-Cpp accounter.cpp, dataprocessor.cpp; the Android SDK's DataProcessorTest
TestAccounter vectors). The counter ticks at 32768 / 48 Hz (the SDK's TICK_TIME_STEP,
48/32768 s), wraps at 2^32 and runs on across connections, so frames then carry the
board's own time and a reconnect's gap is measured by the board. The accelerometer and
gyroscope come as separate notifications at the same rate; the decoder pairs them by
index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from sensors.protocols.base import Frame, MalformedPacket, Reason, SkipCounter
from sensors.types import STANDARD_GRAVITY, FloatArray

__all__ = [
    "COMMAND_UUID",
    "NOTIFY_UUID",
    "SERVICE_UUID",
    "Chip",
    "MetaWearDecoder",
    "MetaWearSetup",
    "MetaWearTimedDecoder",
    "Sample",
    "battery_charge",
    "is_data",
    "parse_data",
]

SERVICE_UUID = "326a9000-85cb-9195-d9dd-464cfbbae75a"
COMMAND_UUID = "326a9001-85cb-9195-d9dd-464cfbbae75a"
NOTIFY_UUID = "326a9006-85cb-9195-d9dd-464cfbbae75a"

ACC, GYRO, SETTINGS, PROCESSOR = 0x03, 0x13, 0x11, 0x09
ACCOUNTER = 0x11  # data processor type: prepends the real-time counter (accounter.cpp)
TICK_HZ = 32768.0 / 48.0  # the board's real-time counter, SDK TICK_TIME_STEP = 48/32768 s
MAX_TIMED_HZ = 100  # one notification per sample per sensor: more does not fit the link
ACC_RANGES_G = (2, 4, 8, 16)
GYRO_RANGES_DPS = (2000, 1000, 500, 250, 125)  # index = range code
GYRO_LSB_PER_DPS = (16.4, 32.8, 65.6, 131.2, 262.4)
# output data rate code (BMI160 and BMI270 alike) for the rates a wrist stream uses
ODR_CODES = {25: 6, 50: 7, 100: 8, 200: 9, 400: 10, 800: 11}
_MAX_UNPAIRED_S = 1.0  # s of one stream held without the other before it is dropped


class Chip(IntEnum):
    """The IMU behind the accelerometer module (its module info `implementation`)."""

    BMI160 = 1
    BMI270 = 4


# chip -> (acc data, acc packed, gyro data, gyro packed) registers
_REGISTERS = {
    Chip.BMI160: (0x04, 0x1C, 0x05, 0x07),
    Chip.BMI270: (0x04, 0x05, 0x04, 0x05),
}


@dataclass(frozen=True, slots=True)
class MetaWearSetup:
    """What the gateway configured: chip, rate (Hz, both sensors), acc range (g), gyro
    range (deg/s), and whether the gyroscope streams."""

    chip: Chip = Chip.BMI160
    odr_hz: int = 100
    acc_g: int = 16
    gyro_dps: int = 2000
    gyro: bool = True
    timed: bool = False  # samples through accounters (board time), not packed data

    def __post_init__(self) -> None:
        if self.odr_hz not in ODR_CODES:
            raise ValueError(f"odr_hz must be one of {tuple(ODR_CODES)}")
        if self.acc_g not in ACC_RANGES_G or self.gyro_dps not in GYRO_RANGES_DPS:
            raise ValueError(f"ranges: acc {ACC_RANGES_G} g, gyro {GYRO_RANGES_DPS} deg/s")
        if self.timed and self.odr_hz > MAX_TIMED_HZ:
            raise ValueError(f"timed streams go up to {MAX_TIMED_HZ} Hz")

    @property
    def registers(self) -> tuple[int, int, int, int]:
        return _REGISTERS[self.chip]

    def configure(self) -> list[bytes]:
        """Commands that set rates and ranges, subscribe to packed data and enable it."""
        odr = ODR_CODES[self.odr_hz]
        range_code = ACC_RANGES_G.index(self.acc_g)
        if self.chip is Chip.BMI160:
            # BMI160 ACC_CONF: bandwidth 2 (normal) in bits 4-6; ACC_RANGE bit patterns
            acc_conf = bytes([0x20 | odr, (0x03, 0x05, 0x08, 0x0C)[range_code]])
        else:
            # BMI270 ACC_CONF: filter performance bit 7 and bandwidth 2; range code as is
            acc_conf = bytes([0xA0 | odr, range_code])
        _, acc_packed, _, gyro_packed = self.registers
        # timed: the accounters (accounters()) take the samples, nothing is subscribed
        out = [bytes([ACC, 0x03]) + acc_conf]
        if not self.timed:
            out.append(bytes([ACC, acc_packed, 0x01]))
        if self.gyro:
            gyro_range = GYRO_RANGES_DPS.index(self.gyro_dps)
            out.append(bytes([GYRO, 0x03, 0x20 | odr, gyro_range]))
            if not self.timed:
                out.append(bytes([GYRO, gyro_packed, 0x01]))
            out.append(bytes([GYRO, 0x02, 0x01, 0x00]))  # data interrupt on
        out.append(bytes([ACC, 0x02, 0x01, 0x00]))
        return out

    def accounters(self) -> list[bytes]:
        """Timed mode: one "add processor" command per sensor, each answered `09 02 id`.

        `09 02, source module, source data register, ff, attributes, 11, config`: the
        source's 6 bytes from offset 0 ((6 - 1) << 5), type accounter, config mode 1
        (time) with a 4-byte counter (length - 1 = 3 in bits 4-5), prescale 3 as the SDK
        sets it: `09 02 03 04 ff a0 11 31 03` for the accelerometer (TestAccounter).
        """
        acc, _, gyro, _ = self.registers
        sources = [(ACC, acc)] + ([(GYRO, gyro)] if self.gyro else [])
        return [
            bytes([PROCESSOR, 0x02, m, r, 0xFF, 0xA0, ACCOUNTER, 0x31, 0x03]) for m, r in sources
        ]

    def start(self) -> list[bytes]:
        """Power the sensors on: gyroscope first, it needs longer to settle."""
        return ([bytes([GYRO, 0x01, 0x01])] if self.gyro else []) + [bytes([ACC, 0x01, 0x01])]

    def stop(self) -> list[bytes]:
        return [bytes([ACC, 0x01, 0x00]), bytes([GYRO, 0x01, 0x00])]


@dataclass(frozen=True, slots=True, eq=False)
class Sample:
    """Parsed data notification: `module` ACC or GYRO, `raw` (n, 3) int counts."""

    module: int
    raw: FloatArray


def is_data(data: bytes | bytearray, chip: Chip) -> bool:
    """Whether a notification is accelerometer or gyroscope data, packed or through a
    data processor (else a reply)."""
    if len(data) < 2:
        return False
    if data[0] == PROCESSOR and data[1] == 0x03:
        return True
    acc, acc_packed, gyro, gyro_packed = _REGISTERS[chip]
    return (data[0] == ACC and data[1] in (acc, acc_packed)) or (
        data[0] == GYRO and data[1] in (gyro, gyro_packed)
    )


def parse_data(data: bytes, chip: Chip) -> Sample:
    """One data notification -> Sample; MalformedPacket when it is none."""
    if len(data) < 2:
        raise MalformedPacket(Reason.TRUNCATED, f"{len(data)} bytes < 2")
    if not is_data(data, chip):
        raise MalformedPacket(Reason.VERSION, f"module 0x{data[0]:02x} register 0x{data[1]:02x}")
    _, acc_packed, _, gyro_packed = _REGISTERS[chip]
    packed = data[1] == (acc_packed if data[0] == ACC else gyro_packed)
    # BMI270 gyro data (13 04) and BMI160 gyro data (13 05) differ from packed by length
    want = 18 if packed else 6
    if len(data) - 2 != want:
        raise MalformedPacket(Reason.LENGTH, f"{len(data) - 2} payload bytes, want {want}")
    raw = np.frombuffer(data, dtype="<i2", offset=2).reshape(-1, 3).astype(np.float64)
    return Sample(data[0], raw)


def battery_charge(data: bytes) -> int | None:
    """Charge % from a battery state reply (`11 8c charge mV_lo mV_hi`), else None."""
    if len(data) >= 3 and data[0] == SETTINGS and data[1] == 0x8C:
        return int(data[2])
    return None


class MetaWearDecoder:
    """Data notifications of one stream -> Frames, accelerometer and gyroscope paired.

    One decoder per stream (per connection): its first frame says the clock restarted,
    since the sample index starts again and says nothing about the time in between.
    """

    __slots__ = ("_acc", "_acc_scale", "_gyr", "_gyr_scale", "_index", "_setup", "_skips")

    seq_modulus: int | None = None
    tick_modulus: int | None = None
    # the chip's oscillator sets the rate: BMI160/BMI270 datasheets allow about +-1 %
    max_drift_ppm: float = 20_000.0

    def __init__(self, setup: MetaWearSetup) -> None:
        self._setup = setup
        self._skips = SkipCounter()
        self._acc_scale = STANDARD_GRAVITY / (16384 >> ACC_RANGES_G.index(setup.acc_g))
        lsb = GYRO_LSB_PER_DPS[GYRO_RANGES_DPS.index(setup.gyro_dps)]
        self._gyr_scale = np.pi / 180.0 / lsb
        self._acc: list[FloatArray] = []
        self._gyr: list[FloatArray] = []
        self._index = 0

    @property
    def setup(self) -> MetaWearSetup:
        return self._setup

    def skipped(self) -> Mapping[Reason, int]:
        return self._skips.snapshot()

    def decode(self, data: bytes) -> list[Frame]:
        try:
            sample = parse_data(data, self._setup.chip)
        except MalformedPacket as e:
            self._skips.add(e.reason)
            return []
        if sample.module == ACC:
            self._acc.append(sample.raw * self._acc_scale)
        elif self._setup.gyro:
            self._gyr.append(sample.raw * self._gyr_scale)
        else:
            return []
        return self._pair()

    def _pair(self) -> list[Frame]:
        acc = np.concatenate(self._acc) if self._acc else np.empty((0, 3))
        gyr = np.concatenate(self._gyr) if self._gyr else np.empty((0, 3))
        n = acc.shape[0] if not self._setup.gyro else min(acc.shape[0], gyr.shape[0])
        limit = round(_MAX_UNPAIRED_S * self._setup.odr_hz)
        if self._setup.gyro and n == 0:
            # one sensor streams alone: keep a second of it, then count the rest as unpaired
            for held in (acc, gyr):
                if held.shape[0] > limit:
                    self._skips.add(Reason.UNPAIRED, held.shape[0] - limit)
            self._acc = [acc[-limit:]] if acc.shape[0] else []
            self._gyr = [gyr[-limit:]] if gyr.shape[0] else []
            return []
        self._acc = [acc[n:]] if acc.shape[0] > n else []
        self._gyr = [gyr[n:]] if gyr.shape[0] > n else []
        first = self._index
        self._index += n
        odr = float(self._setup.odr_hz)
        return [
            Frame(
                tick=first,
                tick_hz=odr,
                offsets=np.arange(n, dtype=np.float64) / odr,
                odr_hz=odr,
                acc=acc[:n],
                gyr=gyr[:n] if self._setup.gyro else None,
                restarted=first == 0,
            )
        ]


_TIMED_SIZE = 3 + 4 + 6  # 09 03 id, u32 tick, int16 x y z


class MetaWearTimedDecoder:
    """Accounter notifications (`09 03 id tick x y z`) -> Frames on the board's clock.

    `ids` maps each sensor module (ACC, GYRO) to the data processor id the board gave
    its accounter. Accelerometer and gyroscope samples are paired by their ticks (within
    half a sample period), so a sample of one that lost its partner is counted
    (Reason.UNPAIRED), never paired with the wrong one. One decoder per connection; the
    counter runs on between connections, so a new connection is not a clock restart.
    """

    __slots__ = ("_acc", "_acc_scale", "_gyr", "_gyr_scale", "_half", "_ids", "_setup", "_skips")

    seq_modulus: int | None = None
    tick_modulus: int | None = 1 << 32

    def __init__(self, setup: MetaWearSetup, ids: Mapping[int, int]) -> None:
        if not setup.timed:
            raise ValueError("MetaWearTimedDecoder needs a timed setup")
        self._setup = setup
        self._ids = {pid: module for module, pid in ids.items()}
        self._skips = SkipCounter()
        self._acc_scale = STANDARD_GRAVITY / (16384 >> ACC_RANGES_G.index(setup.acc_g))
        lsb = GYRO_LSB_PER_DPS[GYRO_RANGES_DPS.index(setup.gyro_dps)]
        self._gyr_scale = np.pi / 180.0 / lsb
        self._half = TICK_HZ / setup.odr_hz / 2.0  # ticks: half a sample period
        self._acc: list[tuple[int, FloatArray]] = []
        self._gyr: list[tuple[int, FloatArray]] = []

    @property
    def setup(self) -> MetaWearSetup:
        return self._setup

    def skipped(self) -> Mapping[Reason, int]:
        return self._skips.snapshot()

    def decode(self, data: bytes) -> list[Frame]:
        if len(data) < 3 or data[0] != PROCESSOR or data[1] != 0x03:
            self._skips.add(Reason.VERSION if len(data) >= 3 else Reason.TRUNCATED)
            return []
        module = self._ids.get(data[2])
        if module is None:
            self._skips.add(Reason.FIELD)  # a processor this connection did not create
            return []
        if len(data) != _TIMED_SIZE:
            self._skips.add(Reason.LENGTH)
            return []
        tick = int.from_bytes(data[3:7], "little")
        raw = np.frombuffer(data, dtype="<i2", offset=7).astype(np.float64)
        if module == ACC:
            self._acc.append((tick, raw * self._acc_scale))
        elif self._setup.gyro:
            self._gyr.append((tick, raw * self._gyr_scale))
        return self._pair()

    def _pair(self) -> list[Frame]:
        out: list[Frame] = []
        if not self._setup.gyro:
            out = [self._frame(tick, acc, None) for tick, acc in self._acc]
            self._acc.clear()
            return out
        while self._acc and self._gyr:
            (ta, acc), (tg, gyr) = self._acc[0], self._gyr[0]
            d = (tg - ta + (1 << 31)) % (1 << 32) - (1 << 31)  # signed, across the wrap
            if abs(d) <= self._half:
                out.append(self._frame(ta, acc, gyr))
                del self._acc[0], self._gyr[0]
            else:
                del (self._gyr if d < 0 else self._acc)[0]
                self._skips.add(Reason.UNPAIRED)
        limit = round(_MAX_UNPAIRED_S * self._setup.odr_hz)
        for held in (self._acc, self._gyr):
            if len(held) > limit:  # one sensor streams alone
                self._skips.add(Reason.UNPAIRED, len(held) - limit)
                del held[: len(held) - limit]
        return out

    def _frame(self, tick: int, acc: FloatArray, gyr: FloatArray | None) -> Frame:
        odr = float(self._setup.odr_hz)
        return Frame(
            tick=tick,
            tick_hz=TICK_HZ,
            offsets=np.zeros(1),
            odr_hz=odr,
            acc=acc.reshape(1, 3),
            gyr=None if gyr is None else gyr.reshape(1, 3),
        )
