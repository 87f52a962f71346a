"""Axivity AX3/AX6 `.cwa` files, decoded by cwa-reader-rs (MIT, maintained, Rust wheels).

The format (firmware_notes/device-files.md): a 1024-byte header sector pair starting
"MD", then 512-byte data sectors starting "AX", each with its own timestamp and a
checksum (the 16-bit word sum of the sector is zero). cwa-reader-rs decodes packed
(AX3, 10-bit + exponent) and unpacked (16-bit, AX6 with gyroscope) sectors and their
fractional timestamps, but neither checks the checksum nor tolerates a torn last
sector. So this module checks every sector first, and when some are bad hands the
reader a copy of the file holding only the good ones: a bad sector becomes a gap of
its samples, counted, instead of wrong values or a failed read.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from sensors.files.base import INSTALL_DEVICES, DeviceFileError, WristFile, wrist_block
from sensors.types import STANDARD_GRAVITY, FloatArray, Side

HEADER_BYTES = 1024
SECTOR_BYTES = 512
SKIP_CHECKSUM = "sectors with a bad checksum"
SKIP_NOT_DATA = "sectors that are not data sectors"
SKIP_TORN = "torn last sector"


def read_cwa(path: Path, side: Side) -> WristFile:
    """One wrist from an AX3/AX6 file; raises DeviceFileError if nothing usable is in it."""
    try:
        import cwa_reader_rs  # optional: only `.cwa` users need it
    except ImportError:
        raise DeviceFileError(
            path, f"reading .cwa files needs cwa-reader-rs: {INSTALL_DEVICES}"
        ) from None
    good, skipped = _check_sectors(path)
    if not good.any():
        raise DeviceFileError(path, "no readable data sector (is it an Axivity .cwa file?)")
    with tempfile.TemporaryDirectory(prefix="mirrorwatch-cwa-") as tmp:
        readable = path if good.all() and not skipped else _good_copy(path, good, Path(tmp))
        try:
            meta = cwa_reader_rs.read_metadata(str(readable))
            frame = cwa_reader_rs.read_cwa_file(
                str(readable),
                include_magnetometer=False,
                include_temperature=False,
                include_light=False,
                include_battery=False,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise DeviceFileError(path, f"cwa-reader-rs cannot read it ({e})") from None
    t = frame.index.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    acc: FloatArray = frame[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float64) * STANDARD_GRAVITY
    gyr: FloatArray | None = None
    if "gyro_x" in frame.columns:
        gyr = np.deg2rad(frame[["gyro_x", "gyro_y", "gyro_z"]].to_numpy(np.float64))
    block = wrist_block(side, t, acc, gyr, skipped)
    if not len(block):
        raise DeviceFileError(path, "no usable samples")
    fs = float(meta.get("sample_rate_hz") or 0.0)
    if not (math.isfinite(fs) and fs > 0):
        fs = float(1.0 / np.median(np.diff(block.t))) if len(block) > 1 else 100.0
    device = f"Axivity {meta.get('hardware_type') or 'AX'} #{meta.get('device_id', '?')}"
    return WristFile(path, device, block, fs, wall_clock=True, skipped=skipped)


def _check_sectors(path: Path) -> tuple[np.ndarray, dict[str, int]]:
    """Which data sectors are good; counts of the bad ones by reason."""
    try:
        size = path.stat().st_size
        if size < HEADER_BYTES:
            raise DeviceFileError(path, f"too short for a .cwa file ({size} bytes)")
        raw = np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as e:
        raise DeviceFileError(path, f"cannot open file ({e.strerror or e})") from None
    if bytes(raw[:2]) != b"MD":
        raise DeviceFileError(path, "not an Axivity .cwa file (no 'MD' header)")
    n = (size - HEADER_BYTES) // SECTOR_BYTES
    sectors = raw[HEADER_BYTES : HEADER_BYTES + n * SECTOR_BYTES].reshape(n, SECTOR_BYTES)
    is_data = (sectors[:, 0] == ord("A")) & (sectors[:, 1] == ord("X"))
    words = sectors.view("<u2")
    checksum_ok = (words.sum(axis=1, dtype=np.uint64) & 0xFFFF) == 0
    # Erased flash (all 0xFF or all 0x00) past the end of the recording is not damage.
    blank = (sectors == 0xFF).all(axis=1) | (sectors == 0).all(axis=1)
    skipped: dict[str, int] = {}
    for reason, count in (
        (SKIP_CHECKSUM, np.count_nonzero(is_data & ~checksum_ok)),
        (SKIP_NOT_DATA, np.count_nonzero(~is_data & ~blank)),
        (SKIP_TORN, int((size - HEADER_BYTES) % SECTOR_BYTES != 0)),
    ):
        if count:
            skipped[reason] = int(count)
    good = np.asarray(is_data & checksum_ok)
    del raw
    return good, skipped


def _good_copy(path: Path, good: np.ndarray, tmp: Path) -> Path:
    """A copy of the file with the header and only the good data sectors."""
    copy = tmp / path.name
    with path.open("rb") as src, copy.open("wb") as dst:
        dst.write(src.read(HEADER_BYTES))
        for ok in good:
            sector = src.read(SECTOR_BYTES)
            if ok:
                dst.write(sector)
    return copy
