"""Recording files (CSV v1, DESIGN.md §4): read, write, and replay as a source.

A recording is `.csv` or `.csv.gz` (chosen by suffix): `# key: value` metadata
lines, a header naming the columns `t,side,ax,ay,az,gx,gy,gz` in any order, then
one row per sample of either wrist in any order. `t` is seconds on the session
clock, acceleration m/s^2, angular rate rad/s; gyro cells may be empty.

Bad input never raises a traceback: what cannot be read at all is a
`RecordingError` naming file and line; a bad row is skipped and counted by reason.

Rows may come in any order, but a side's clock set back mid-file is undone rather
than sorted in (sensors/clock_jumps.py) and counted in `clock_jumps`. A clock that
stood still repeats its timestamp: those rows are duplicates, skipped and counted.
"""

from __future__ import annotations

import contextlib
import gzip
import heapq
import io
import math
import os
import zlib
from array import array
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from sensors.clock_jumps import undo_clock_jumps
from sensors.source import paced
from sensors.types import FloatArray, ImuBlock, Side

COLUMNS = ("t", "side", "ax", "ay", "az", "gx", "gy", "gz")
ACC_MAX = 490.0  # m/s^2 per component: 50 g, beyond any wrist movement or sensor range
GYR_MAX = 100.0  # rad/s per component: ~5700 deg/s, physically implausible for a wrist

# Skip reasons, the keys of Recording.skip_reasons.
SKIP_CELLS = "wrong number of cells"
SKIP_NUMBER = "unparsable number"
SKIP_NONFINITE = "NaN/inf"
SKIP_SIDE = "bad side"
SKIP_RANGE = "out of range"
SKIP_GYRO = "gyro presence unlike rest of side"
SKIP_DUPLICATE = "duplicate timestamp"

_MAX_SKIPPED_LINES = 10
_CHUNK_BYTES = 1 << 20  # rows are parsed in chunks of about this many bytes
_SIDES = (Side.L, Side.R)
# R's write.csv quotes strings, so accept a quoted side as well.
_SIDE_CODES = {"L": 0, "R": 1, '"L"': 0, '"R"': 1}
_NO_GYRO = ("", "", "")
_ZERO3 = (0.0, 0.0, 0.0)
# Rows whose cells parsed are kept as one float array (exact for these small integers):
# line number, side (index into _SIDES), gyro cells filled (0/1), t, ax, ay, az, gx, gy, gz.
# Empty gyro cells become 0.0, so value checks hold for both kinds of row.
_LINE, _SIDE, _FILLED, _T = 0, 1, 2, 3
_ACC = slice(4, 7)
_GYR = slice(7, 10)


class RecordingError(Exception):
    """A recording that cannot be read at all; `str(e)` is one line naming file and line."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.path}" if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording read into one time-sorted block per side present.

    `rows` counts data rows read, `skipped` those dropped as bad (`skip_reasons`
    says why, `first_skipped_lines` says where: up to 10 line numbers).
    `clock_jumps` counts backward jumps of a side's clock that were undone,
    `clock_jump_lines` says where (the first row after each, up to 10).
    """

    path: Path
    metadata: dict[str, str]
    sides: dict[Side, ImuBlock]
    rows: int
    skipped: int
    skip_reasons: dict[str, int]
    first_skipped_lines: tuple[int, ...]
    clock_jumps: int = 0
    clock_jump_lines: tuple[int, ...] = ()

    @property
    def fs(self) -> float | None:
        """Sample rate in Hz: metadata `fs` if usable, else the median rate of the data."""
        try:
            fs = float(self.metadata.get("fs", "nan").lower().removesuffix("hz"))
        except ValueError:
            fs = math.nan
        if math.isfinite(fs) and fs > 0:
            return fs
        diffs = [np.diff(block.t) for block in self.sides.values() if len(block) > 1]
        if not diffs:
            return None
        return float(1.0 / np.median(np.concatenate(diffs)))


class _Skips:
    """Counts skipped rows by reason and remembers the first line numbers."""

    def __init__(self) -> None:
        self.reasons: dict[str, int] = {}
        self.lines: list[int] = []

    def add(self, reason: str, line: int) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.lines) < _MAX_SKIPPED_LINES:
            self.lines.append(line)

    def add_many(self, reason: str, lines: FloatArray) -> None:
        if lines.size:
            self.reasons[reason] = self.reasons.get(reason, 0) + int(lines.size)
            self.lines.extend(int(n) for n in np.sort(lines)[:_MAX_SKIPPED_LINES])

    def first_lines(self) -> tuple[int, ...]:
        return tuple(sorted(self.lines)[:_MAX_SKIPPED_LINES])


@dataclass(frozen=True, slots=True)
class _Layout:
    """Cell positions in a data row, from the header."""

    ncols: int
    side: int
    numbers: tuple[int, ...]  # t, ax, ay, az
    gyro: tuple[int, ...]  # gx, gy, gz; empty when the header has no gyro columns


def _add_metadata(metadata: dict[str, str], line: str) -> None:
    key, colon, value = line[1:].partition(":")
    # A '#' line without 'key:' is a free comment, not metadata.
    if colon and key.strip():
        metadata[key.strip()] = value.strip()


def _header_layout(path: Path, line: int, text: str) -> _Layout:
    """Map the header's column names (any order, extra columns ignored) to cell positions."""
    names = [cell.strip().strip('"').lower() for cell in text.rstrip("\r\n").split(",")]
    wanted = [n for n in names if n in COLUMNS]
    if len(wanted) != len(set(wanted)):
        dup = next(n for n in wanted if wanted.count(n) > 1)
        raise RecordingError(path, line, f"duplicate column {dup!r} in header")
    if not {"t", "side", "ax"} & set(names):
        shown = text.strip()[:60]
        expected = ",".join(COLUMNS)
        raise RecordingError(path, line, f"no header line: expected {expected!r}, found {shown!r}")
    # An accelerometer-only file may leave out all three gyro columns.
    has_gyro = any(n in names for n in COLUMNS[5:])
    missing = [n for n in COLUMNS[: 8 if has_gyro else 5] if n not in names]
    if missing:
        listed = ", ".join(repr(n) for n in missing)
        plural = "s" if len(missing) > 1 else ""
        raise RecordingError(path, line, f"missing column{plural} {listed} in header")
    pos = {n: names.index(n) for n in wanted}
    gyro = tuple(pos[n] for n in COLUMNS[5:]) if has_gyro else ()
    return _Layout(len(names), pos["side"], (pos["t"], pos["ax"], pos["ay"], pos["az"]), gyro)


def _decode(path: Path, raws: list[bytes], first_line: int) -> list[str]:
    texts = []
    for line, raw in enumerate(raws, start=first_line):
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            hint = " (looks gzip-compressed: name it .csv.gz)" if raw[:2] == b"\x1f\x8b" else ""
            where = f"byte 0x{raw[e.start]:02x} at column {e.start + 1}"
            raise RecordingError(path, line, f"not UTF-8 text: {where}{hint}") from e
    return texts


def _loadtxt(texts: list[str], columns: tuple[int, ...], dtype: str = "f8") -> npt.NDArray[Any]:
    return np.loadtxt(texts, dtype=dtype, delimiter=",", comments=None, usecols=columns, ndmin=2)


def _parse_fast(texts: list[str], first_line: int, layout: _Layout) -> FloatArray | None:
    """Parse a chunk with numpy's C parser; None unless every line is a clean data row.

    loadtxt and float() share CPython's number parser, so whatever this accepts,
    _parse_careful would accept with the same values.
    """
    commas = layout.ncols - 1
    if any(text.count(",") != commas or text.startswith("#") for text in texts):
        return None
    try:
        side = _loadtxt(texts, (layout.side,), "U2")[:, 0]
        if not layout.gyro:
            numbers, filled = _loadtxt(texts, layout.numbers), False
        else:
            try:
                numbers, filled = _loadtxt(texts, layout.numbers + layout.gyro), True
            except ValueError:
                # The whole chunk may be accelerometer-only; any other mix goes the careful way.
                if (_loadtxt(texts, layout.gyro, "U1") != "").any():
                    return None
                numbers, filled = _loadtxt(texts, layout.numbers), False
    except ValueError:
        return None
    is_right = side == "R"
    if not (is_right | (side == "L")).all():
        return None
    n = len(texts)
    lines = np.arange(first_line, first_line + n)
    gyro = () if filled else (np.zeros((n, 3)),)
    return np.column_stack((lines, is_right, np.full(n, filled), numbers, *gyro))


def _parse_careful(
    texts: list[str], first_line: int, layout: _Layout, metadata: dict[str, str], skips: _Skips
) -> FloatArray:
    """Parse a chunk line by line, taking metadata and skipping rows whose cells do not parse."""
    rows: array[float] = array("d")
    get_numbers = itemgetter(*layout.numbers)
    get_gyro = itemgetter(*layout.gyro) if layout.gyro else None
    for line, text in enumerate(texts, start=first_line):
        if text.startswith("#"):
            _add_metadata(metadata, text)
            continue
        cells = text.rstrip("\r\n").split(",")
        if len(cells) != layout.ncols:
            if text.strip():  # blank lines are not rows
                skips.add(SKIP_CELLS, line)
            continue
        code = _SIDE_CODES.get(cells[layout.side].strip())
        if code is None:
            skips.add(SKIP_SIDE, line)
            continue
        gyro_cells = _NO_GYRO if get_gyro is None else get_gyro(cells)
        try:
            numbers = tuple(map(float, get_numbers(cells)))
            gyro = _ZERO3 if gyro_cells == _NO_GYRO else tuple(map(float, gyro_cells))
        except ValueError:
            skips.add(SKIP_NUMBER, line)
            continue
        rows.extend((line, code, gyro is not _ZERO3, *numbers, *gyro))
    return np.frombuffer(rows, dtype=np.float64).reshape(-1, 10)


def _readable_lines(path: Path) -> int:
    """Count the lines of a damaged gzip file that still decompress, to say where it breaks."""
    count = 0
    with contextlib.suppress(EOFError, zlib.error, gzip.BadGzipFile), gzip.open(path, "rb") as f:
        for _ in f:
            count += 1
    return count


@dataclass(frozen=True, slots=True)
class _Scan:
    """One pass over the file: metadata, parsed rows, and the rows already skipped."""

    metadata: dict[str, str]
    header_line: int
    rows: int  # data rows seen, including those skipped
    parsed: FloatArray  # (n, 10), columns as _LINE.._GYR say
    skips: _Skips


def _scan(path: Path, f: io.BufferedIOBase) -> _Scan:
    """Read the file once; stream errors become RecordingError naming the line."""
    metadata: dict[str, str] = {}
    skips = _Skips()
    chunks = [np.zeros((0, 10))]
    lineno = 0
    header_line = 0
    try:
        for lineno, raw in enumerate(f, start=1):
            text = _decode(path, [raw], lineno)[0].removeprefix("\ufeff")  # spreadsheets' BOM
            if text.startswith("#"):
                _add_metadata(metadata, text)
            elif text.strip():
                header_line = lineno
                break
        if not header_line:
            what = "file is empty" if not lineno else f"file ends at line {lineno}"
            raise RecordingError(path, max(lineno, 1), f"no header line ({what})")
        layout = _header_layout(path, lineno, text)
        while raws := f.readlines(_CHUNK_BYTES):
            texts = _decode(path, raws, lineno + 1)
            chunk = _parse_fast(texts, lineno + 1, layout)
            if chunk is None:
                chunk = _parse_careful(texts, lineno + 1, layout, metadata, skips)
            chunks.append(chunk)
            lineno += len(raws)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        good = _readable_lines(path)
        where = f"after line {good}" if good else "from the start"
        message = f"gzip data truncated or corrupt, unreadable {where} ({e})"
        raise RecordingError(path, max(good, 1), message) from e
    except OSError as e:
        raise RecordingError(path, lineno + 1, f"read error after line {lineno} ({e})") from e
    parsed = np.concatenate(chunks)
    rows = len(parsed) + sum(skips.reasons.values())
    return _Scan(metadata, header_line, rows, parsed, skips)


def read_recording(path: Path) -> Recording:
    """Read a `.csv` or `.csv.gz` recording; raise RecordingError if nothing usable is in it."""
    path = Path(path)
    # _scan turns its own read errors into RecordingError, so OSError here is from opening.
    try:
        with gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb") as f:
            scan = _scan(path, f)
    except FileNotFoundError as e:
        raise RecordingError(path, None, "file not found") from e
    except IsADirectoryError as e:
        raise RecordingError(path, None, "is a directory, not a recording file") from e
    except OSError as e:
        raise RecordingError(path, None, f"cannot open file ({e.strerror or e})") from e

    rows, skips = scan.parsed, scan.skips
    ok = np.isfinite(rows).all(axis=1)
    skips.add_many(SKIP_NONFINITE, rows[~ok, _LINE])
    implausible = ok & (
        (np.abs(rows[:, _ACC]) > ACC_MAX).any(axis=1)
        | (np.abs(rows[:, _GYR]) > GYR_MAX).any(axis=1)
    )
    skips.add_many(SKIP_RANGE, rows[implausible, _LINE])
    rows = rows[ok & ~implausible]

    sides: dict[Side, ImuBlock] = {}
    jump_lines: list[int] = []
    for code, side in enumerate(_SIDES):
        own = rows[rows[:, _SIDE] == code]
        if not len(own):
            continue
        t, jumps = undo_clock_jumps(own[:, _T])
        if jumps:
            own = own.copy()
            own[:, _T] = t
            jump_lines += [int(own[i, _LINE]) for i in jumps]
        # Gyro presence is a property of the sensor, so the side's majority decides it.
        use_gyro = 2 * np.count_nonzero(own[:, _FILLED]) >= len(own)
        misfit = own[:, _FILLED] != use_gyro
        skips.add_many(SKIP_GYRO, own[misfit, _LINE])
        # Stable sort keeps file order among equal times, so the first of duplicates survives.
        own = own[~misfit][np.argsort(own[~misfit, _T], kind="stable")]
        dup = np.concatenate(([False], own[1:, _T] == own[:-1, _T]))
        skips.add_many(SKIP_DUPLICATE, own[dup, _LINE])
        own = own[~dup]
        # Copies, so each block's arrays are contiguous and the parse buffer can go.
        gyr = own[:, _GYR].copy() if use_gyro else None
        sides[side] = ImuBlock(side, own[:, _T].copy(), own[:, _ACC].copy(), gyr)

    first_lines = skips.first_lines()
    if not sides:
        if not scan.rows:
            raise RecordingError(path, scan.header_line, "no data rows after the header")
        reasons = ", ".join(f"{reason}: {n}" for reason, n in skips.reasons.items())
        message = f"no valid data rows: all {scan.rows} skipped ({reasons})"
        raise RecordingError(path, first_lines[0], message)
    return Recording(
        path=path,
        metadata=scan.metadata,
        sides=sides,
        rows=scan.rows,
        skipped=sum(skips.reasons.values()),
        skip_reasons=dict(skips.reasons),
        first_skipped_lines=first_lines,
        clock_jumps=len(jump_lines),
        clock_jump_lines=tuple(sorted(jump_lines)[:_MAX_SKIPPED_LINES]),
    )


def _side_chunks(block: ImuBlock, block_size: int) -> Iterator[ImuBlock]:
    for seq, start in enumerate(range(0, len(block), block_size)):
        stop = start + block_size
        gyr = None if block.gyr is None else block.gyr[start:stop]
        yield ImuBlock(block.side, block.t[start:stop], block.acc[start:stop], gyr, seq=seq)


def iter_blocks(recording: Recording, block_size: int = 4) -> Iterator[ImuBlock]:
    """Both sides in blocks of `block_size` samples, ordered by each block's last time.

    That is the order a live stream would deliver them in; `seq` counts blocks per side.
    """
    if block_size < 1:
        raise ValueError("block_size must be >= 1")
    chunks = [_side_chunks(recording.sides[s], block_size) for s in _SIDES if s in recording.sides]
    # heapq.merge prefers earlier iterables on ties, so L comes before R at equal times.
    return heapq.merge(*chunks, key=lambda block: float(block.t[-1]))


class RecordingWriter:
    """Streams blocks into a recording file; use as a context manager.

    Times are written with 6 decimals (1 us) and values with 6 significant digits
    (relative error <= 5e-6); metadata keys and values are stripped on reading.
    """

    def __init__(self, path: Path, metadata: Mapping[str, str]) -> None:
        # Checked before opening, so a bad call leaves no file behind.
        for key, value in metadata.items():
            if not key.strip() or ":" in key or any(c in key + value for c in "\r\n"):
                raise ValueError(
                    f"metadata must be single-line 'key: value', got {key!r}: {value!r}"
                )
        self.path = Path(path)
        self.rows = 0
        # Health data: the file is the owner's alone (0600), also when it existed;
        # fchmod, since a umask can take bits from os.open's mode but not add them.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        # The file stays open across write() calls; close() or __exit__ closes it.
        self._file: TextIO
        if self.path.suffix.lower() == ".gz":
            # Level 1: files ~12% larger than level 6 but written ~6x faster, live or in bulk.
            self._file = gzip.open(self.path, "wt", encoding="utf-8", compresslevel=1)  # noqa: SIM115
        else:
            self._file = self.path.open("w", encoding="utf-8", newline="\n")
        self._file.writelines(f"# {key}: {value}\n" for key, value in metadata.items())
        self._file.write(",".join(COLUMNS) + "\n")

    def write(self, block: ImuBlock) -> None:
        """Append the block's samples as rows."""
        side = block.side.value
        if block.gyr is None:
            fmt = f"%.6f,{side},%.6g,%.6g,%.6g,,,\n"
            data = np.column_stack((block.t, block.acc))
        else:
            fmt = f"%.6f,{side},%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n"
            data = np.column_stack((block.t, block.acc, block.gyr))
        self._file.write("".join([fmt % tuple(row) for row in data.tolist()]))
        self.rows += len(block)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Close on errors too: what was written so far is a readable recording.
        self.close()


def write_recording(path: Path, blocks: Iterable[ImuBlock], metadata: Mapping[str, str]) -> int:
    """Write `blocks` to a recording file; return the number of rows written."""
    with RecordingWriter(path, metadata) as writer:
        for block in blocks:
            writer.write(block)
    return writer.rows


class ReplaySource:
    """Replays a recording as a source, in blocks of `block_size` samples.

    `speed` is a multiple of real time (1.0 = real time, paced on the session clock
    from t = 0); None replays as fast as possible.
    """

    def __init__(
        self, recording: Recording, speed: float | None = None, block_size: int = 4
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError("speed must be > 0")
        if block_size < 1:
            raise ValueError("block_size must be >= 1")
        self._recording = recording
        self._speed = speed
        self._block_size = block_size

    def blocks(self) -> AsyncIterator[ImuBlock]:
        return paced(iter_blocks(self._recording, self._block_size), self._speed)
