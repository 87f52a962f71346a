"""Device-file readers on files written from the formats' specifications (devfile_writers)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from devfile_writers import G, clap_wrist, gt3x_log, gt3x_record, write_cwa, write_gt3x

from pipeline.commands.wrist_files import pair_spec
from sensors.files import DeviceFileError, read_wrist
from sensors.files.claps import ClapError, fit_claps
from sensors.files.cwa import SKIP_CHECKSUM, SKIP_NOT_DATA, SKIP_TORN
from sensors.files.gt3x import SKIP_CHECKSUM as GT3X_CHECKSUM
from sensors.files.gt3x import SKIP_GARBAGE, check_records
from sensors.files.gt3x import SKIP_TORN as GT3X_TORN
from sensors.files.pads import SKIP_ROW
from sensors.files.pair import read_pair
from sensors.types import ImuBlock, Side

START = 1_700_000_000.0  # s, on a device clock (2023-11-14 22:13:20)


def _motion(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    acc = np.tile([0.0, 0.0, 1.0], (n, 1)) + rng.normal(0, 0.3, (n, 3))  # g
    gyr = rng.normal(0, 100, (n, 3))  # dps
    return acc, gyr


def test_cwa_ax6_unpacked_reads_back_in_si_units(tmp_path: Path) -> None:
    acc, gyr = _motion(1, 400)
    path = tmp_path / "ax6.cwa"
    assert write_cwa(path, START + 0.25, 100.0, acc, gyr) == 10  # 40 samples per sector
    f = read_wrist(path, Side.L)
    b = f.block
    assert f.device.startswith("Axivity AX6")
    assert f.fs == 100.0
    assert f.wall_clock
    assert f.skipped == {}
    np.testing.assert_allclose(b.t - START, 0.25 + np.arange(400) / 100.0, atol=1e-6)
    # 16-bit units: 1/4096 g and 2000/32768 dps
    np.testing.assert_allclose(b.acc, acc * G, atol=0.5 / 4096 * G + 1e-9)
    assert b.gyr is not None
    np.testing.assert_allclose(b.gyr, np.deg2rad(gyr), atol=np.deg2rad(0.5 * 2000 / 32768) + 1e-9)


def test_cwa_ax3_packed_reads_back(tmp_path: Path) -> None:
    acc, _ = _motion(2, 360)
    path = tmp_path / "ax3.cwa"
    write_cwa(path, START, 100.0, acc, packed=True)
    b = read_wrist(path, Side.R).block
    assert b.side is Side.R
    assert b.gyr is None
    assert len(b) == 360
    # 10-bit values of 1/256 g, shifted by the exponent when they do not fit
    np.testing.assert_allclose(b.acc, acc * G, atol=2.0 / 256 * G)


def test_cwa_bad_sectors_are_counted_and_skipped(tmp_path: Path) -> None:
    acc, gyr = _motion(3, 400)
    path = tmp_path / "damaged.cwa"
    write_cwa(path, START, 100.0, acc, gyr)
    raw = bytearray(path.read_bytes())
    raw[1024 + 512 * 2 + 100] ^= 0x5A  # sector 2: a sample byte flipped, checksum now wrong
    raw[1024 + 512 * 5 : 1024 + 512 * 5 + 2] = b"ZZ"  # sector 5: not a data sector
    raw += b"\x41\x58" + bytes(100)  # a torn sector at the end
    path.write_bytes(bytes(raw))
    f = read_wrist(path, Side.L)
    assert f.skipped == {SKIP_CHECKSUM: 1, SKIP_NOT_DATA: 1, SKIP_TORN: 1}
    assert len(f.block) == 400 - 2 * 40
    # The damaged sectors' samples are missing, not wrong: the rest keep their times.
    expected = START + np.delete(np.arange(400), np.r_[80:120, 200:240]) / 100.0
    np.testing.assert_allclose(f.block.t, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "too short"),
        (b"XX" + bytes(2000), "no 'MD' header"),
        (b"MD" + bytes(1022), "no readable"),
    ],
)
def test_cwa_unreadable_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.cwa"
    path.write_bytes(content)
    with pytest.raises(DeviceFileError, match=message) as e:
        read_wrist(path, Side.L)
    assert "\n" not in str(e.value)
    assert str(path) in str(e.value)


def test_gt3x_reads_back_and_counts_bad_records(tmp_path: Path) -> None:
    acc, _ = _motion(4, 30 * 6)
    good = gt3x_log(int(START), 30, acc)
    path = tmp_path / "ok.gt3x"
    write_gt3x(path, int(START), 30, good, side="Right")
    f = read_wrist(path, Side.R)
    assert f.named_side is Side.R
    assert f.fs == 30.0
    assert f.block.gyr is None
    assert f.skipped == {}
    np.testing.assert_allclose(f.block.t - START, np.arange(180) / 30.0, atol=1e-6)
    np.testing.assert_allclose(f.block.acc, acc * G, atol=0.5 / 256 * G + 1e-9)
    # Damage: one record's checksum, garbage between records, zero padding, a torn tail.
    size = 8 + 30 * 6 + 1
    bad = bytearray(good)
    bad[size + 20] ^= 0xFF  # record 1's payload
    damaged = bytes(bad[: 3 * size]) + b"\x00\x00" + b"junk" + bytes(bad[3 * size :]) + good[:20]
    _, counts = check_records(damaged)
    assert counts == {GT3X_CHECKSUM: 1, SKIP_GARBAGE: 1, GT3X_TORN: 1}
    path = tmp_path / "damaged.gt3x"
    write_gt3x(path, int(START), 30, damaged)
    f = read_wrist(path, Side.L)
    assert f.skipped == {GT3X_CHECKSUM: 1, SKIP_GARBAGE: 1, GT3X_TORN: 1}
    assert len(f.block) == 5 * 30  # the damaged second is missing, the rest are read
    assert not np.any((f.block.t - START >= 1) & (f.block.t - START < 2))


def test_gt3x_record_checksum_matches_the_documented_example() -> None:
    # GT3X-File-Format README: header 1E 06 71 E8 B4 54 7C 00 (METADATA, 1421142129, 124 B)
    record = gt3x_record(0x06, 1421142129, bytes(124))
    assert record[:8] == bytes.fromhex("1E0671E8B4547C00")
    assert check_records(record) == (record, {})


def test_not_a_gt3x_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.gt3x"
    path.write_bytes(b"not a zip")
    with pytest.raises(DeviceFileError, match="not a zip archive"):
        read_wrist(path, Side.L)


def test_pads_text_rows_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "301_TouchNose_LeftWrist.txt"
    rows = [f"{i / 100:.10f},0.01,-0.02,0.03,0.1,0.2,-0.3" for i in range(200)]
    rows[50] = "0.5,nan-ish,0,0,0,0,0"
    rows[60] = "0.6,1,2"
    path.write_text("\n".join(rows) + "\n")
    f = read_wrist(path, Side.L)
    assert f.named_side is Side.L
    assert not f.wall_clock
    assert f.skipped == {SKIP_ROW: 2}
    assert len(f.block) == 198
    assert f.fs == pytest.approx(100.0)
    np.testing.assert_allclose(f.block.acc[0], np.array([0.01, -0.02, 0.03]) * G)
    assert f.block.gyr is not None
    np.testing.assert_allclose(f.block.gyr[0], [0.1, 0.2, -0.3])


def _clap_pair(tmp_path: Path, offset: float, phase: float) -> tuple[Path, Path]:
    """Two AX6 files of the same claps; the right device's clock is `offset` s ahead
    and it samples `phase` s after the left (true time)."""
    tl, al, gl = clap_wrist(11, 100.0, 12.0, 1.0)
    tr, ar, gr = clap_wrist(12, 100.0, 12.0, -1.0, phase)
    left, right = tmp_path / "L.cwa", tmp_path / "R.cwa"
    write_cwa(left, START + tl[0], 100.0, al, gl)
    write_cwa(right, START + tr[0] + offset, 100.0, ar, gr)
    return left, right


@pytest.mark.parametrize(("offset", "phase"), [(0.8363, 0.0037), (-1.2471, 0.0071)])
def test_claps_measure_a_known_clock_offset(tmp_path: Path, offset: float, phase: float) -> None:
    left, right = _clap_pair(tmp_path, offset, phase)
    by_timestamps = read_pair(left, right)
    assert by_timestamps.clock.claps is None
    by_claps = read_pair(left, right, claps=True)
    fit = by_claps.clock.claps
    assert fit is not None
    # The right clock runs `offset` ahead; each clap is seen `phase` later on the right
    # grid, which the onset interpolation must not mistake for clock offset.
    assert fit.offset == pytest.approx(offset, abs=0.005)
    assert fit.residual < 0.02
    assert "residual" in by_claps.clock.describe()
    # On the shared session clock the claps now coincide.
    lc = np.asarray(fit.left) - by_claps.clock.t0
    rc = np.asarray(fit.right) - fit.offset - by_claps.clock.t0
    assert np.abs(lc - rc).mean() < 0.02


def test_no_claps_is_a_clear_error(tmp_path: Path) -> None:
    t = np.arange(1000) / 100.0
    still = ImuBlock(Side.L, t, np.tile([0.0, 0.0, G], (1000, 1)), None)
    with pytest.raises(ClapError, match="left wrist: no three claps"):
        fit_claps(still, still)


def test_pair_refuses_swapped_sides_and_disjoint_times(tmp_path: Path) -> None:
    acc, gyr = _motion(5, 200)
    write_cwa(tmp_path / "a.cwa", START, 100.0, acc, gyr)
    write_cwa(tmp_path / "b.cwa", START + 3600, 100.0, acc, gyr)
    with pytest.raises(DeviceFileError, match="do not overlap"):
        read_pair(tmp_path / "a.cwa", tmp_path / "b.cwa")
    line = "0.0,0,0,0,0,0,0\n0.01,0,0,0,0,0,0\n"
    (tmp_path / "1_T_RightWrist.txt").write_text(line)
    (tmp_path / "1_T_LeftWrist.txt").write_text(line)
    with pytest.raises(DeviceFileError, match="give the left wrist's file first"):
        read_pair(tmp_path / "1_T_RightWrist.txt", tmp_path / "1_T_LeftWrist.txt")


def test_struct_layout_of_a_cwa_sector(tmp_path: Path) -> None:
    """The writer's sector fields where cwa.h puts them."""
    acc, gyr = _motion(6, 40)
    path = tmp_path / "one.cwa"
    write_cwa(path, START, 100.0, acc, gyr)
    sector = path.read_bytes()[1024:1536]
    assert sector[:2] == b"AX"
    assert struct.unpack_from("<H", sector, 2)[0] == 508
    assert sector[25] == 0x62  # 6 axes, 16-bit
    assert struct.unpack_from("<H", sector, 28)[0] == 40
    assert sum(struct.unpack("<256H", sector)) & 0xFFFF == 0


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIRRORWATCH_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


def test_analyze_takes_a_cwa_pair(tmp_path: Path) -> None:
    left, right = _clap_pair(tmp_path, 0.8363, 0.0037)
    done = _cli(tmp_path, "analyze", str(left), str(right), "--sync", "claps", "--json")
    assert done.returncode == 0, done.stderr
    assert "residual" in done.stderr
    one = _cli(tmp_path, "analyze", str(left))
    assert one.returncode == 2
    assert one.stderr.strip().count("\n") == 0
    assert "holds one wrist" in one.stderr


def test_source_spec_names_a_pair() -> None:
    assert pair_spec("claps:a.cwa, b.gt3x") == (Path("a.cwa"), Path("b.gt3x"), True)
    assert pair_spec("a.txt,b.txt") == (Path("a.txt"), Path("b.txt"), False)
    assert pair_spec("lsl:x,y") is None
    assert pair_spec("rec.csv") is None
