"""An assessment replayed from two device files reports how well their clocks agree.

The clap fit's residual (sensors/files/claps.py) goes into the session's meta and the
report's data quality; without claps the report says no residual was measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from devfile_writers import clap_wrist, write_cwa

from pipeline.store.spool import Spool

START = 1_700_000_000.0  # s, on a device clock
PROTOCOL = """
name = "claps"
[[task]]
name = "rest"
instruction = "Sit still."
active = "none"
duration = 6.0
"""


@pytest.mark.parametrize("claps", [True, False])
def test_the_clap_residual_reaches_the_report(tmp_path: Path, claps: bool) -> None:
    tl, al, gl = clap_wrist(11, 100.0, 12.0, 1.0)
    tr, ar, gr = clap_wrist(12, 100.0, 12.0, -1.0, 0.0037)
    left, right = tmp_path / "L.cwa", tmp_path / "R.cwa"
    write_cwa(left, START + tl[0], 100.0, al, gl)
    write_cwa(right, START + tr[0] + 0.8363, 100.0, ar, gr)
    protocol = tmp_path / "claps.toml"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    data = tmp_path / "data"
    env = {**os.environ, "MIRRORWATCH_DATA_DIR": str(data), "XDG_CONFIG_HOME": str(tmp_path)}
    source = f"{'claps:' if claps else ''}{left},{right}"
    r = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "assess", "--protocol", str(protocol),
         "--subject", "c1", "--source", source, "--speed", "max", "--yes"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode in (0, 3), r.stderr
    report = Path(r.stdout.strip().splitlines()[-1].removeprefix("report "))
    text = report.read_text(encoding="utf-8")
    with Spool.in_dir(data) as spool:
        meta = spool.session("latest").meta
    if claps:
        residual = float(meta["clock_residual_ms"])
        assert 0.0 < residual < 20.0
        assert meta["clock_sync"] == "claps"
        assert f"residual {residual:.1f} ms RMS over the claps" in text
    else:
        assert "clock_residual_ms" not in meta
        assert "not refined by claps: no residual measured" in text
