"""Small writers of device files for the tests, from the formats' public specifications.

CWA: OpenMovement's cwa.h and "AX Device Technical Documentation" (Docs/ax3/ in the
openmovement repository), summarised in firmware_notes/device-files.md. GT3X:
ActiGraph's GT3X-File-Format (README.md, info.txt.md, LogRecords/Activity2.md).
Neither reader ships a writer, so these write what the documents say, and the tests
read the files back with the real readers.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
G = 9.80665

CWA_ACC_SCALE = 4  # unpacked accel units 1/2^(8+4) g = 1/4096 g (+-8 g)
CWA_GYRO_SCALE = 2  # gyro full scale 8000/2^2 = 2000 dps over int16
CWA_RATE_CODES = {100.0: 10, 200.0: 11, 50.0: 9, 25.0: 8}
_RANGE_8G = 1 << 6  # rate code bits 6-7: range 16 >> 1 = 8 g


def cwa_timestamp(seconds: int) -> int:
    """Packed date-time of cwa.h: YYYYYYMM MMDDDDDh hhhhmmmm mmssssss (year - 2000)."""
    d = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return (
        ((d.year - 2000) << 26)
        | (d.month << 22)
        | (d.day << 17)
        | (d.hour << 12)
        | (d.minute << 6)
        | d.second
    )


def _cwa_header(ax6: bool, rate_code: int) -> bytes:
    h = bytearray(1024)
    # "MD", length 1020, hardware type (0x64 AX6, 0x17 AX3), device id, session id
    struct.pack_into("<HHBHIH", h, 0, 0x444D, 1020, 0x64 if ax6 else 0x17, 4321, 7, 0)
    h[35] = 0x02 if ax6 else 0x00  # sensorConfig: gyro range code (2 = 2000 dps), 0 = accel only
    h[36] = rate_code
    return bytes(h)


def _cwa_sector(
    seq: int,
    t_first: float,
    fs: float,
    rate_code: int,
    acc: Floats,
    gyr: Floats | None,
    packed: bool,
) -> bytes:
    """One 512-byte "AX" data sector whose first sample is at `t_first` (POSIX s)."""
    s = bytearray(512)
    # The whole second at or before the first sample, and its (integer) sample index:
    # cwa.h's "timestampOffset", relative to the sector's first sample. The fraction is
    # left 0 (top bit set): readers differ in how they round a fractional timestamp
    # (firmware_notes/device-files.md), and a whole-second stamp is read alike by all.
    whole = math.floor(t_first + 1e-9)
    offset = -round((t_first - whole) * fs)
    if abs(whole - offset / fs - t_first) > 1e-6:
        raise ValueError("sector start must lie on the sample grid of whole seconds")
    axes = 3 if gyr is None else 6
    light = ((0 if packed else CWA_ACC_SCALE) << 13) | (CWA_GYRO_SCALE << 10) | 200
    struct.pack_into(
        "<HHHIIIHHBBBBhH",
        s,
        0,
        0x5841,  # "AX"
        508,
        0x8000,  # top bit: the low 15 bits are a fraction of a second (0 here)
        7,
        seq,
        cwa_timestamp(whole),
        light,
        300,  # temperature (raw)
        0,  # events
        180,  # battery (raw)
        rate_code,
        (axes << 4) | (0 if packed else 2),
        offset,
        len(acc),
    )
    if packed:
        # One 32-bit value per sample: eezzzzzz zzzzyyyy yyyyyyxx xxxxxxxx, units 1/256 g << e.
        for i, xyz in enumerate(np.round(acc * 256).astype(int)):
            e = 0
            while max(abs(int(v)) >> e for v in xyz) > 511:
                e += 1
            x, y, z = ((int(v) >> e) & 0x3FF for v in xyz)
            struct.pack_into("<I", s, 30 + 4 * i, (e << 30) | (z << 20) | (y << 10) | x)
    else:
        acc_raw = np.round(acc * (1 << (8 + CWA_ACC_SCALE)))
        cols = [acc_raw]
        if gyr is not None:
            cols.insert(0, np.round(gyr * 32768 / (8000 >> CWA_GYRO_SCALE)))  # Gxyz before Axyz
        raw = np.clip(np.hstack(cols), -32768, 32767).astype("<i2")
        s[30 : 30 + raw.nbytes] = raw.tobytes()
    total = sum(struct.unpack("<255H", bytes(s[:510]))) & 0xFFFF
    struct.pack_into("<H", s, 510, (-total) & 0xFFFF)
    return bytes(s)


def write_cwa(
    path: Path,
    start: float,
    fs: float,
    acc_g: Floats,
    gyr_dps: Floats | None = None,
    packed: bool = False,
) -> int:
    """An AX6 (with gyro) or AX3 file of regularly sampled data from `start` (POSIX s).

    Returns the number of data sectors written.
    """
    rate_code = CWA_RATE_CODES[fs] | _RANGE_8G
    per = 120 if packed else (40 if gyr_dps is not None else 80)
    sectors = 0
    with path.open("wb") as f:
        f.write(_cwa_header(gyr_dps is not None, rate_code))
        for seq, i in enumerate(range(0, len(acc_g), per)):
            gyr = None if gyr_dps is None else gyr_dps[i : i + per]
            sector = _cwa_sector(
                seq, start + i / fs, fs, rate_code, acc_g[i : i + per], gyr, packed
            )
            f.write(sector)
            sectors += 1
    return sectors


def gt3x_record(kind: int, timestamp: int, payload: bytes) -> bytes:
    """One log.bin record: 0x1E, type, Unix seconds, size, payload, checksum."""
    header = struct.pack("<BBIH", 0x1E, kind, timestamp, len(payload))
    x = 0
    for b in header + payload:
        x ^= b
    return header + payload + bytes([(~x) & 0xFF])


def gt3x_log(start: int, fs: int, acc_g: Floats, scale: float = 256.0) -> bytes:
    """ACTIVITY2 records (0x1A), one per second from `start`, int16 XYZ in 1/scale g."""
    log = bytearray()
    for k, i in enumerate(range(0, len(acc_g), fs)):
        raw = np.round(acc_g[i : i + fs] * scale).astype("<i2")
        log += gt3x_record(0x1A, start + k, raw.tobytes())
    return bytes(log)


def write_gt3x(path: Path, start: int, fs: int, log: bytes, side: str | None = None) -> None:
    """A .gt3x zip: info.txt (times in .NET ticks) and the given log.bin."""
    ticks = start * 10_000_000 + 621_355_968_000_000_000
    lines = [
        "Serial Number: MOS2E22180349",
        "Device Type: wGT3XBT",
        "Firmware: 1.9.2",
        "Battery Voltage: 4.10",
        f"Sample Rate: {fs}",
        f"Start Date: {ticks}",
        "Stop Date: 0",
        f"Download Date: {ticks + 3600 * 10_000_000}",
        "Board Revision: 4",
        "Unexpected Resets: 0",
        "Acceleration Scale: 256.0",
        "Acceleration Min: -8.0",
        "Acceleration Max: 8.0",
    ]
    if side is not None:
        lines += ["Limb: Wrist", f"Side: {side}"]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("info.txt", "\n".join(lines) + "\n")
        z.writestr("log.bin", log)


def clap_wrist(
    seed: int,
    fs: float,
    duration: float,
    sign: float,
    phase: float = 0.0,
    claps: tuple[float, ...] = (4.0031, 4.5577, 5.2194),
) -> tuple[Floats, Floats, Floats]:
    """One wrist sampled at `phase + k / fs` s of true time: t, acc (g, gravity included),
    gyr (dps); still except for sway, noise and three claps at `claps` s of true time.

    A clap is an impact: a damped 35 Hz ring of the wrist; the hands hit each other, so
    the two wrists ring in opposite directions along x (`sign`).
    """
    rng = np.random.default_rng(seed)
    t = phase + np.arange(round(duration * fs)) / fs
    acc = np.tile([0.05, -0.2, 0.97], (len(t), 1)) + rng.normal(0, 0.004, (len(t), 3))
    acc[:, 1] += 0.02 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))
    gyr = rng.normal(0, 0.3, (len(t), 3))
    for c in claps:
        after = t >= c
        d = t[after] - c
        ring = 3.0 * np.exp(-d / 0.02) * np.cos(2 * np.pi * 35 * d)
        acc[after, 0] += sign * ring
        acc[after, 2] += 0.4 * ring
        gyr[after, 1] += sign * 40 * np.exp(-d / 0.05)
    return t, acc, gyr
