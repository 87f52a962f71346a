"""Recording CSV v1: round trips, bad input (fatal and recoverable), block order, replay."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors import recording as rec_module
from sensors.recording import (
    Recording,
    RecordingError,
    RecordingWriter,
    ReplaySource,
    iter_blocks,
    read_recording,
    write_recording,
)
from sensors.types import ImuBlock, Side

HEADER = "t,side,ax,ay,az,gx,gy,gz\n"
METADATA = {"subject": "S01", "device": "mw-ref", "fs": "100", "note": "left: paretic"}


def make_block(
    side: Side, n: int, *, gyro: bool = True, t0: float = 0.0, seed: int = 0
) -> ImuBlock:
    """`n` samples at 100 Hz with gravity on y and noise; deterministic per seed."""
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n) / 100.0
    acc = rng.normal(0.0, 2.0, (n, 3)) + np.array([0.0, 9.81, 0.0])
    gyr = rng.normal(0.0, 1.0, (n, 3)) if gyro else None
    return ImuBlock(side, t, acc, gyr)


def write_text(path: Path, text: str) -> Path:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def assert_same_block(got: ImuBlock, want: ImuBlock) -> None:
    assert got.side is want.side
    np.testing.assert_allclose(got.t, want.t, rtol=0, atol=5e-7)
    np.testing.assert_allclose(got.acc, want.acc, rtol=1e-5, atol=1e-12)
    if want.gyr is None:
        assert got.gyr is None
    else:
        assert got.gyr is not None
        np.testing.assert_allclose(got.gyr, want.gyr, rtol=1e-5, atol=1e-12)


def assert_same_recording(a: Recording, b: Recording) -> None:
    assert (a.metadata, a.rows, a.skipped) == (b.metadata, b.rows, b.skipped)
    assert (a.skip_reasons, a.first_skipped_lines) == (b.skip_reasons, b.first_skipped_lines)
    assert a.sides.keys() == b.sides.keys()
    for side, block in a.sides.items():
        other = b.sides[side]
        np.testing.assert_array_equal(block.t, other.t)
        np.testing.assert_array_equal(block.acc, other.acc)
        assert (block.gyr is None) == (other.gyr is None)
        if block.gyr is not None and other.gyr is not None:
            np.testing.assert_array_equal(block.gyr, other.gyr)


def fatal(path: Path) -> RecordingError:
    with pytest.raises(RecordingError) as info:
        read_recording(path)
    assert "\n" not in str(info.value)
    assert path.name in str(info.value)
    return info.value


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("gyro", [True, False])
def test_round_trip_keeps_samples_and_metadata(tmp_path: Path, suffix: str, gyro: bool) -> None:
    left = make_block(Side.L, 250, gyro=gyro, seed=1)
    right = make_block(Side.R, 240, gyro=gyro, t0=0.004, seed=2)
    path = tmp_path / f"rec{suffix}"
    # Written in pieces and interleaved, as a live session would.
    pieces = [left.slice(0, 100), right.slice(0, 90), left.slice(100, 250), right.slice(90, 240)]
    assert write_recording(path, pieces, METADATA) == 490

    rec = read_recording(path)
    assert rec.metadata == METADATA
    assert (rec.rows, rec.skipped, rec.skip_reasons, rec.first_skipped_lines) == (490, 0, {}, ())
    assert_same_block(rec.sides[Side.L], left)
    assert_same_block(rec.sides[Side.R], right)
    assert rec.fs == 100.0


def test_writer_format_spelled_out(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    with RecordingWriter(path, {"subject": "S01"}) as writer:
        writer.write(ImuBlock(Side.L, np.array([0.0]), np.array([[0.12, 9.79, 0.03]]), None))
        gyr = np.array([[0.001, -0.002, 0.0]])
        writer.write(ImuBlock(Side.R, np.array([0.0125]), np.array([[1.5, -9.81, 2e-7]]), gyr))
    assert writer.rows == 2
    assert path.read_text().splitlines() == [
        "# subject: S01",
        "t,side,ax,ay,az,gx,gy,gz",
        "0.000000,L,0.12,9.79,0.03,,,",
        "0.012500,R,1.5,-9.81,2e-07,0.001,-0.002,0",
    ]


@pytest.mark.parametrize(
    "metadata", [{"note": "two\nlines"}, {"note": "cr\r"}, {"a:b": "x"}, {" ": "x"}]
)
def test_writer_rejects_bad_metadata_before_creating_the_file(
    tmp_path: Path, metadata: dict[str, str]
) -> None:
    path = tmp_path / "rec.csv"
    with pytest.raises(ValueError, match="single-line"):
        RecordingWriter(path, metadata)
    assert not path.exists()


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.tuples(
            *[st.floats(-490, 490, allow_subnormal=False) for _ in range(3)],
            *[st.floats(-100, 100, allow_subnormal=False) for _ in range(3)],
        ),
        min_size=1,
        max_size=20,
    )
)
def test_values_round_trip_within_1e5_relative(
    tmp_path_factory: pytest.TempPathFactory, values: list[tuple[float, ...]]
) -> None:
    data = np.array(values)
    t = np.arange(len(data), dtype=np.float64) / 100.0
    block = ImuBlock(Side.R, t, data[:, :3], data[:, 3:])
    path = tmp_path_factory.mktemp("prop") / "rec.csv"
    write_recording(path, [block], {})
    got = read_recording(path).sides[Side.R]
    assert got.gyr is not None
    np.testing.assert_allclose(np.hstack((got.acc, got.gyr)), data, rtol=1e-5, atol=0)


# --- fatal input -----------------------------------------------------------------------------


def test_missing_file_and_directory(tmp_path: Path) -> None:
    err = fatal(tmp_path / "absent.csv")
    assert err.line is None
    assert "file not found" in str(err)
    assert "is a directory" in str(fatal(tmp_path))
    (tmp_path / "file.csv").write_text(HEADER)
    assert "cannot open file (Not a directory)" in str(fatal(tmp_path / "file.csv" / "x.csv"))


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "no header line (file is empty)"),
        ("# subject: S01\n# fs: 100\n", 2, "no header line"),
        ("0.0,L,0,9.8,0,0,0,0\n", 1, "no header line: expected 't,side,ax,ay,az,gx,gy,gz'"),
        ("# fs: 100\n\nt,side,ax,ay,az,gx,gy\n0,L,0,0,0,0,0\n", 3, "missing column 'gz' in header"),
        ("t,side,ax,gx\n", 1, "missing columns 'ay', 'az', 'gy', 'gz' in header"),
        ("t,side,ax,ay,az,AX\n", 1, "duplicate column 'ax' in header"),
        ("# a: b\n" + HEADER + "\n\n", 2, "no data rows after the header"),
        (HEADER + "0,X,0,0,0,0,0,0\n0,L,0,0,0\n", 2, "all 2 skipped (bad side: 1, wrong number"),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_fatal_errors_name_file_and_line(
    tmp_path: Path, suffix: str, text: str, line: int, words: str
) -> None:
    path = write_text(tmp_path / f"rec{suffix}", text)
    err = fatal(path)
    assert err.line == line
    assert str(err).startswith(f"{path}:{line}: ")
    assert words in str(err)


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 64])
def test_not_utf8_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    monkeypatch.setattr(rec_module, "_CHUNK_BYTES", chunk_bytes)
    rows = "".join(f"0.{i:02d},L,0,9.8,0,0,0,0\n" for i in range(10))
    path = tmp_path / "rec.csv"
    path.write_bytes(("# a: b\n" + HEADER + rows).encode() + b"0.5,L,\xff,0,0,0,0,0\n")
    err = fatal(path)
    assert err.line == 13
    assert "not UTF-8 text: byte 0xff at column 7" in str(err)

    path.write_bytes(b"# note: caf\xe9\n" + HEADER.encode())
    assert fatal(path).line == 1


def test_gzip_data_without_gz_suffix_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    path.write_bytes(gzip.compress((HEADER + "0,L,0,0,0,0,0,0\n").encode()))
    assert "looks gzip-compressed" in str(fatal(path))


def test_truncated_gzip_names_last_good_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv.gz"
    write_recording(path, [make_block(Side.L, 3000, seed=3)], METADATA)
    data = path.read_bytes()
    cut = data[: len(data) // 2]
    path.write_bytes(cut)
    # The true last good line: complete lines in what the truncated stream still yields.
    good = zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")
    assert 100 < good < 3000
    err = fatal(path)
    assert err.line == good
    assert f"truncated or corrupt, unreadable after line {good}" in str(err)


def test_corrupt_and_fake_gzip(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv.gz"
    write_recording(path, [make_block(Side.L, 50, seed=4)], {})
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # the CRC in the trailer: every line decompresses, the check fails
    path.write_bytes(bytes(data))
    err = fatal(path)
    assert err.line == 51
    assert "unreadable after line 51 (CRC check failed" in str(err)

    path.write_text(HEADER + "0,L,0,0,0,0,0,0\n")  # plain text behind a .gz name
    err = fatal(path)
    assert err.line == 1
    assert "unreadable from the start" in str(err)


# --- recoverable input -----------------------------------------------------------------------

BAD_ROWS = """\
# subject: S01
t,side,ax,ay,az,gx,gy,gz
0.00,L,0,9.8,0,0,0,0
0.00,R,0,9.8,0,0,0,0
0.01,L,0,9.8,0
0.01,X,0,9.8,0,0,0,0
0.01,L,abc,9.8,0,0,0,0
0.01,L,nan,9.8,0,0,0,0
0.01,L,0,-inf,0,0,0,0
0.01,L,500,9.8,0,0,0,0
0.01,L,0,9.8,0,0,0,101
0.01,L,1,9.8,0,0,0,0
0.01,L,2,9.8,0,0,0,0
0.02,L,0,9.8,0,,,
0.02,R,0,9.8,0,0,,

0.03,R,3,9.8,0,0,0,0
"""


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_bad_rows_are_skipped_and_counted_exactly(tmp_path: Path, suffix: str) -> None:
    rec = read_recording(write_text(tmp_path / f"rec{suffix}", BAD_ROWS))
    assert rec.skip_reasons == {
        "wrong number of cells": 1,
        "bad side": 1,
        "unparsable number": 2,
        "NaN/inf": 2,
        "out of range": 2,
        "gyro presence unlike rest of side": 1,
        "duplicate timestamp": 1,
    }
    assert (rec.rows, rec.skipped) == (14, 10)  # the blank line is not a row
    assert rec.first_skipped_lines == (5, 6, 7, 8, 9, 10, 11, 13, 14, 15)
    left, right = rec.sides[Side.L], rec.sides[Side.R]
    np.testing.assert_array_equal(left.t, [0.0, 0.01])
    np.testing.assert_array_equal(left.acc[:, 0], [0.0, 1.0])  # first of the duplicates kept
    np.testing.assert_array_equal(right.t, [0.0, 0.03])


def test_only_first_ten_skipped_lines_are_listed(tmp_path: Path) -> None:
    rows = "".join(f"0.{i:02d},L,0,9.8,0,0,0,0\n0.{i:02d},Q,0,0,0,0,0,0\n" for i in range(30))
    rec = read_recording(write_text(tmp_path / "rec.csv", HEADER + rows))
    assert rec.skip_reasons == {"bad side": 30}
    assert rec.first_skipped_lines == tuple(range(3, 23, 2))


def test_gyro_presence_is_decided_per_side_by_majority(tmp_path: Path) -> None:
    text = HEADER + (
        "0.00,L,0,9.8,0,1,1,1\n0.01,L,0,9.8,0,1,1,1\n0.02,L,0,9.8,0,,,\n0.03,L,0,9.8,0,1,1,1\n"
        "0.00,R,0,9.8,0,,,\n0.01,R,0,9.8,0,2,2,2\n0.02,R,0,9.8,0,,,\n0.03,R,0,9.8,0,,,\n"
    )
    rec = read_recording(write_text(tmp_path / "rec.csv", text))
    assert rec.skip_reasons == {"gyro presence unlike rest of side": 2}
    assert rec.first_skipped_lines == (4, 7)
    assert rec.sides[Side.L].gyr is not None
    np.testing.assert_array_equal(rec.sides[Side.L].t, [0.0, 0.01, 0.03])
    assert rec.sides[Side.R].gyr is None
    np.testing.assert_array_equal(rec.sides[Side.R].t, [0.0, 0.02, 0.03])


def test_side_with_no_valid_rows_is_absent(tmp_path: Path) -> None:
    text = HEADER + "0.0,L,0,9.8,0,0,0,0\n0.0,R,nan,0,0,0,0,0\n"
    rec = read_recording(write_text(tmp_path / "rec.csv", text))
    assert list(rec.sides) == [Side.L]
    assert rec.skip_reasons == {"NaN/inf": 1}


def test_rows_in_any_order_and_any_chunking_give_the_same_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    blocks = [make_block(Side.L, 300, seed=5), make_block(Side.R, 280, t0=0.002, seed=6)]
    ordered = tmp_path / "ordered.csv"
    write_recording(ordered, blocks, METADATA)
    lines = ordered.read_text().splitlines(keepends=True)
    head, rows = lines[:5], lines[5:]  # 4 metadata lines and the header
    # Rows 10 and 200 of L and 101 of R go bad, so some chunks take the careful path.
    rows[10], rows[200], rows[401] = "0.5,L,x,0,0,0,0,0\n", "\n", "# late: metadata\n"
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("".join(head + [rows[i] for i in rng.permutation(len(rows))]))

    want = read_recording(ordered)
    got = read_recording(shuffled)
    assert (got.rows, got.skip_reasons) == (578, {"unparsable number": 1})
    assert got.metadata == {**METADATA, "late": "metadata"}
    kept = {Side.L: np.delete(np.arange(300), [10, 200]), Side.R: np.delete(np.arange(280), 101)}
    for side, index in kept.items():
        block, full = got.sides[side], want.sides[side]
        assert full.gyr is not None
        assert block.gyr is not None
        np.testing.assert_array_equal(block.t, full.t[index])
        np.testing.assert_array_equal(block.acc, full.acc[index])
        np.testing.assert_array_equal(block.gyr, full.gyr[index])

    # Fast and careful parsing agree, whatever the chunk boundaries.
    fast_calls: list[bool] = []
    real_fast = rec_module._parse_fast

    def spy(*args: Any) -> Any:
        out = real_fast(*args)
        fast_calls.append(out is not None)
        return out

    monkeypatch.setattr(rec_module, "_parse_fast", spy)
    monkeypatch.setattr(rec_module, "_CHUNK_BYTES", 500)
    assert_same_recording(read_recording(shuffled), got)
    assert any(fast_calls)
    assert not all(fast_calls)
    monkeypatch.setattr(rec_module, "_parse_fast", lambda *args: None)
    assert_same_recording(read_recording(shuffled), got)


def test_header_order_extra_columns_quotes_bom_crlf(tmp_path: Path) -> None:
    # As R's write.csv would write it, saved by a spreadsheet with a BOM and CRLF.
    text = (
        '\ufeff# fs: 50\r\n"","side","T","ay","ax","az","temp","gz","gy","gx"\r\n'
        '"1","L",0.02,9.8,1,0,25,0.3,0.2,0.1\r\n'
        '"2","R",0.00,9.7,2,0,25,0.6,0.5,0.4\r\n'
        '"3","L",0.00,9.6,3,0,25,0.9,0.8,0.7\r\n'
    )
    rec = read_recording(write_text(tmp_path / "rec.csv", text))
    assert rec.skipped == 0
    assert rec.metadata == {"fs": "50"}
    assert rec.fs == 50.0
    left = rec.sides[Side.L]
    np.testing.assert_array_equal(left.t, [0.0, 0.02])
    np.testing.assert_array_equal(left.acc, [[3, 9.6, 0], [1, 9.8, 0]])
    assert left.gyr is not None
    np.testing.assert_array_equal(left.gyr, [[0.7, 0.8, 0.9], [0.1, 0.2, 0.3]])


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_accelerometer_only_header_without_gyro_columns(tmp_path: Path, suffix: str) -> None:
    rows = "".join(f"0.{i:02d},{'LR'[i % 2]},0,9.8,0\n" for i in range(40))
    rec = read_recording(write_text(tmp_path / f"rec{suffix}", "t,side,ax,ay,az\n" + rows))
    assert rec.skipped == 0
    assert all(block.gyr is None for block in rec.sides.values())
    assert len(rec.sides[Side.L]) == len(rec.sides[Side.R]) == 20


def test_fs_from_metadata_else_estimated(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    blocks = [make_block(Side.L, 50, seed=8)]
    write_recording(path, blocks, {"fs": "128 Hz"})
    assert read_recording(path).fs == 128.0
    for metadata in ({}, {"fs": "unknown"}, {"fs": "-5"}):
        write_recording(path, blocks, metadata)
        assert read_recording(path).fs == pytest.approx(100.0)
    write_recording(path, [make_block(Side.L, 1, seed=8)], {})
    assert read_recording(path).fs is None


# --- blocks and replay -----------------------------------------------------------------------


@pytest.fixture
def two_sides(tmp_path: Path) -> Recording:
    path = tmp_path / "rec.csv"
    write_recording(path, [make_block(Side.L, 10, seed=9), make_block(Side.R, 7, t0=0.005)], {})
    return read_recording(path)


def test_iter_blocks_sizes_and_live_order(two_sides: Recording) -> None:
    blocks = list(iter_blocks(two_sides, block_size=4))
    # L: t 0.00..0.09, R: t 0.005..0.065; a block arrives when its last sample does.
    assert [(b.side.value, len(b), b.seq, round(float(b.t[-1]), 3)) for b in blocks] == [
        ("L", 4, 0, 0.03),
        ("R", 4, 0, 0.035),
        ("R", 3, 1, 0.065),
        ("L", 4, 1, 0.07),
        ("L", 2, 2, 0.09),
    ]
    for side, block in two_sides.sides.items():
        mine = [b for b in blocks if b.side is side]
        np.testing.assert_array_equal(np.concatenate([b.t for b in mine]), block.t)
        np.testing.assert_array_equal(np.concatenate([b.acc for b in mine]), block.acc)
        assert [b.seq for b in mine] == list(range(len(mine)))
    with pytest.raises(ValueError, match="block_size"):
        iter_blocks(two_sides, block_size=0)


def test_iter_blocks_puts_left_first_on_equal_times(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    write_recording(path, [make_block(Side.R, 6, seed=1), make_block(Side.L, 6, seed=2)], {})
    blocks = list(iter_blocks(read_recording(path), block_size=2))
    assert [b.side.value for b in blocks] == ["L", "R"] * 3


def test_replay_as_fast_as_possible_yields_every_sample(two_sides: Recording) -> None:
    async def collect() -> list[ImuBlock]:
        return [block async for block in ReplaySource(two_sides, block_size=3).blocks()]

    blocks = asyncio.run(collect())
    assert sum(len(b) for b in blocks) == 17
    assert [float(b.t[-1]) for b in blocks] == [float(b.t[-1]) for b in iter_blocks(two_sides, 3)]


def test_replay_paced_takes_at_least_the_scaled_duration(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    write_recording(path, [make_block(Side.L, 101, seed=10)], {})  # t from 0 to 1.0 s
    source = ReplaySource(read_recording(path), speed=50.0)

    async def drain() -> int:
        return sum([len(block) async for block in source.blocks()])

    start = time.monotonic()
    assert asyncio.run(drain()) == 101
    assert time.monotonic() - start >= 0.015  # 1 s at 50x is 20 ms; loose lower bound only


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_replay_rejects_bad_speed(two_sides: Recording, speed: float) -> None:
    with pytest.raises(ValueError, match="speed must be > 0"):
        ReplaySource(two_sides, speed=speed)


def test_replay_rejects_bad_block_size(two_sides: Recording) -> None:
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        ReplaySource(two_sides, block_size=0)
