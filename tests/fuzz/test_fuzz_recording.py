"""Fuzzed recording files (issue 7): read_recording raises RecordingError or nothing.

Arbitrary bytes, text shaped like CSV v1 (headers, cells, comments, line ends drawn
from what real files contain and what breaks them), and gzip wrappers of both. A file
that reads is consistent: every data row is a sample or a counted skip. Valid
recordings round-trip exactly when their values are what the writer's format holds.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensors.recording import (
    ACC_MAX,
    COLUMNS,
    GYR_MAX,
    RecordingError,
    read_recording,
    write_recording,
)
from sensors.types import ImuBlock, Side

FUZZ = settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory per module; each example overwrites its file (fixtures are not reset)."""
    return tmp_path_factory.mktemp("fuzz")


CELLS = st.one_of(
    st.sampled_from(
        ["0", "1.5", "-9.81", "1e3", "1e400", "nan", "-inf", "", " ", "L", "R", '"L"', "x"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet='0123456789.-+eE,"# \t', max_size=8),
)
NUMBERS = st.one_of(
    st.floats(-600, 600, allow_nan=False).map(lambda x: f"{x:.4f}"),
    st.sampled_from(["", "nan", "inf", "1e3", "-0", "x"]),
)
_VALUE = st.floats(-100, 100).map(lambda x: f"{x:.4f}")
# Rows that fit the full header: good ones, and ones with a bad value that is counted.
ROWS = st.one_of(
    st.tuples(_VALUE, st.sampled_from(["L", "R", '"R"']), *[_VALUE] * 6).map(list),
    st.tuples(NUMBERS, st.sampled_from(["L", "R", '"R"', "l", ""]), *[NUMBERS] * 6).map(list),
)
HEADERS = st.one_of(
    st.just(",".join(COLUMNS)),
    st.just(",".join(COLUMNS)),
    st.just("t,side,ax,ay,az"),
    st.permutations(COLUMNS).map(",".join),
    st.lists(st.sampled_from([*COLUMNS, "extra", "T", '"side"', ""]), max_size=10).map(",".join),
)


@st.composite
def csv_text(draw: st.DrawFn) -> str:
    """Metadata, a header and rows, each part plausible or broken."""
    lines = draw(st.lists(st.sampled_from(["# fs: 100", "# subject: p01", "#", "", "# x"])))
    lines.append(draw(HEADERS))
    for _ in range(draw(st.integers(0, 12))):
        lines.append(",".join(draw(st.one_of(ROWS, st.lists(CELLS, max_size=10)))))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    prefix = draw(st.sampled_from(["", "\ufeff"]))
    return prefix + end.join(lines) + draw(st.sampled_from(["", end]))


def _read_or_refuse(path: Path) -> None:
    """Read `path`; any exception other than RecordingError fails the test."""
    try:
        rec = read_recording(path)
    except RecordingError as e:
        refusal = str(e)
    else:
        refusal = None
        in_blocks = sum(len(block) for block in rec.sides.values())
        assert in_blocks + rec.skipped == rec.rows
        assert sum(rec.skip_reasons.values()) == rec.skipped
        for block in rec.sides.values():
            assert np.isfinite(block.t).all()
            assert (np.abs(block.acc) <= ACC_MAX).all()
            assert block.gyr is None or (np.abs(block.gyr) <= GYR_MAX).all()
    assert refusal is None or "\n" not in refusal  # one line, for the CLI's one-line error


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".csv.gz"]))
def test_any_bytes_read_or_refused(workdir: Path, data: bytes, suffix: str) -> None:
    path = workdir / f"bytes{suffix}"
    path.write_bytes(data)
    _read_or_refuse(path)


@FUZZ
@given(text=csv_text(), encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_csv_shaped_text_read_or_refused(workdir: Path, text: str, encoding: str) -> None:
    path = workdir / "text.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    _read_or_refuse(path)


@FUZZ
@given(text=csv_text(), cut=st.integers(0, 200), level=st.sampled_from([0, 1, 9]))
def test_gzip_whole_or_cut_short_read_or_refused(
    workdir: Path, text: str, cut: int, level: int
) -> None:
    packed = gzip.compress(text.encode(), compresslevel=level)
    path = workdir / "text.csv.gz"
    for data in (packed, packed[: len(packed) - cut], zlib.compress(text.encode())):
        path.write_bytes(data)
        _read_or_refuse(path)


# Values the writer holds exactly: t with at most 6 decimals, values with 6 significant
# digits (recording.py writes %.6f and %.6g).
TIME_US = st.integers(0, 10**10)
ACC = st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(-999_999, 999_999), st.integers(-9, -4))
GYR = st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(-999_999, 999_999), st.integers(-9, -5))


@st.composite
def blocks(draw: st.DrawFn, side: Side) -> ImuBlock:
    n = draw(st.integers(1, 30))
    t = np.array(sorted(draw(st.sets(TIME_US, min_size=n, max_size=n)))) / 1e6
    acc = np.array(draw(st.lists(ACC, min_size=3 * n, max_size=3 * n))).reshape(n, 3)
    gyr = None
    if draw(st.booleans()):
        gyr = np.array(draw(st.lists(GYR, min_size=3 * n, max_size=3 * n))).reshape(n, 3)
    return ImuBlock(side, t, acc, gyr)


META = st.dictionaries(
    st.text(alphabet="abcdefghij_", min_size=1, max_size=8),
    st.text(alphabet="abc XYZ0123456789.-_/", max_size=20).map(str.strip),
    max_size=4,
)


@FUZZ
@given(
    left=st.none() | blocks(Side.L),
    right=blocks(Side.R),
    metadata=META,
    suffix=st.sampled_from([".csv", ".csv.gz"]),
)
def test_valid_recordings_round_trip_exactly(
    workdir: Path,
    left: ImuBlock | None,
    right: ImuBlock,
    metadata: dict[str, str],
    suffix: str,
) -> None:
    path = workdir / f"valid{suffix}"
    written = [b for b in (left, right) if b is not None]
    assert write_recording(path, written, metadata) == sum(len(b) for b in written)
    rec = read_recording(path)
    assert rec.metadata == metadata
    assert (rec.skipped, rec.rows) == (0, sum(len(b) for b in written))
    assert set(rec.sides) == {b.side for b in written}
    for want in written:
        got = rec.sides[want.side]
        np.testing.assert_array_equal(got.t, want.t)
        np.testing.assert_array_equal(got.acc, want.acc)
        if want.gyr is None:
            assert got.gyr is None
        else:
            assert got.gyr is not None
            np.testing.assert_array_equal(got.gyr, want.gyr)
