"""ActiGraph `.gt3x` files, decoded by pygt3x (ActiGraph's own reader).

The format (firmware_notes/device-files.md): a zip holding `info.txt` (sample rate,
serial number, the device's settings) and `log.bin`, a sequence of records: 0x1E,
type, Unix-second timestamp, payload size, payload, and a one-byte checksum (the
ones' complement of the XOR of header and payload). ACTIVITY (0x00, 12-bit packed)
and ACTIVITY2 (0x1A, int16) records hold one second of accelerometer samples each;
these devices have no gyroscope.

pygt3x skips a record whose checksum is wrong but stops at the first record whose
header is damaged (it does not look for the next separator), and says neither in
its result. So this module walks the records first, counts the bad ones, and when
there are some hands pygt3x a copy holding only the good records.
"""

from __future__ import annotations

import io
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from sensors.files.base import INSTALL_DEVICES, DeviceFileError, WristFile, wrist_block
from sensors.types import STANDARD_GRAVITY, Side

SEPARATOR = 0x1E
SKIP_CHECKSUM = "log records with a bad checksum"
SKIP_GARBAGE = "stretches of bytes that are not log records"
SKIP_TORN = "torn last log record"
SKIP_IDLE = "samples the reader filled in for idle sleep mode"
_SIDES = {"left": Side.L, "right": Side.R}


def read_gt3x(path: Path, side: Side) -> WristFile:
    """One wrist from a `.gt3x` file; raises DeviceFileError if nothing usable is in it."""
    try:
        from pygt3x.reader import FileReader  # optional: only `.gt3x` users need it
    except ImportError:
        raise DeviceFileError(
            path, f"reading .gt3x files needs pygt3x: {INSTALL_DEVICES}"
        ) from None
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "info.txt" not in names or not names & {"log.bin", "log.txt"}:
                raise DeviceFileError(path, "not an ActiGraph .gt3x file (no info.txt and log.bin)")
            members = {name: z.read(name) for name in names}
    except zipfile.BadZipFile:
        raise DeviceFileError(path, "not an ActiGraph .gt3x file (not a zip archive)") from None
    except OSError as e:
        raise DeviceFileError(path, f"cannot open file ({e.strerror or e})") from None
    skipped: dict[str, int] = {}
    if "log.bin" in members:
        good_log, skipped = check_records(members["log.bin"])
        members["log.bin"] = good_log
    with tempfile.TemporaryDirectory(prefix="mirrorwatch-gt3x-") as tmp:
        readable = path
        if skipped:
            readable = Path(tmp) / path.name
            with zipfile.ZipFile(readable, "w") as z:
                for name, data in members.items():
                    z.writestr(name, data)
        with _reader_warnings() as notes:
            try:
                with FileReader(str(readable)) as reader:
                    samples = np.asarray(reader.acceleration, dtype=np.float64)
                    if len(samples) and not reader.nhanes:
                        samples[:, 1:4] = reader.calibrate_acceleration(samples[:, 1:4])
                    info = reader.info
            except DeviceFileError:
                raise
            except Exception as e:  # a third-party decoder: any failure is a data error
                raise DeviceFileError(path, f"pygt3x cannot read it ({e})") from None
    if not len(samples):
        raise DeviceFileError(path, "no accelerometer samples in the file")
    # Idle sleep mode: the device stopped sampling and pygt3x repeats the last sample.
    idle = samples[:, 4] == 1
    if idle.any():
        skipped[SKIP_IDLE] = int(np.count_nonzero(idle))
        samples = samples[~idle]
    block = wrist_block(side, samples[:, 0], samples[:, 1:4] * STANDARD_GRAVITY, None, skipped)
    if not len(block):
        raise DeviceFileError(path, "no usable samples")
    device = f"ActiGraph {info.device_type or 'GT3X'} {info.serial_number or ''}".strip()
    named = _SIDES.get(str(info.side or "").strip().lower())
    fs = float(info.sample_rate) if info.sample_rate else 30.0
    return WristFile(path, device, block, fs, True, skipped, named, tuple(notes))


def check_records(log: bytes) -> tuple[bytes, dict[str, int]]:
    """The good records of a log.bin, and counts of what was not, by reason.

    After a record with a bad checksum the walk goes on at its declared end if a
    separator is there, else one byte after its start: a damaged size field must
    not swallow the records behind it.
    """
    good = io.BytesIO()
    skipped: dict[str, int] = {}
    view = memoryview(log)
    i, n = 0, len(log)
    in_garbage = False
    while i < n:
        if log[i] != SEPARATOR:
            # The format allows a few zero bytes between records.
            if log[i] != 0 and not in_garbage:
                skipped[SKIP_GARBAGE] = skipped.get(SKIP_GARBAGE, 0) + 1
                in_garbage = True
            i += 1
            continue
        in_garbage = False
        if i + 8 > n:
            skipped[SKIP_TORN] = 1
            break
        size = log[i + 6] | (log[i + 7] << 8)
        end = i + 8 + size + 1
        if end > n:
            skipped[SKIP_TORN] = 1
            break
        body = np.frombuffer(view[i : end - 1], dtype=np.uint8)
        if (~int(np.bitwise_xor.reduce(body))) & 0xFF == log[end - 1]:
            good.write(view[i:end])
            i = end
            continue
        skipped[SKIP_CHECKSUM] = skipped.get(SKIP_CHECKSUM, 0) + 1
        i = end if end == n or log[end] == SEPARATOR else i + 1
        in_garbage = True  # the bytes up to the next separator belong to this record
    return good.getvalue(), skipped


class _Collect(logging.Handler):
    def __init__(self, notes: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.notes = notes

    def emit(self, record: logging.LogRecord) -> None:
        self.notes.append(record.getMessage())


@contextmanager
def _reader_warnings() -> Iterator[list[str]]:
    """pygt3x's warnings (one per odd second) collected instead of printed."""
    logger = logging.getLogger("pygt3x")
    notes: list[str] = []
    handler = _Collect(notes)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield notes
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
