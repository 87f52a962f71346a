"""`monitor --source lsl:L,R`: two real LSL senders (g and deg/s, 200 Hz, their own
timestamps, one gap) become the wrists; the spool holds their samples in SI units on
the senders' timing, and the gap stays a gap (not bridged)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from prerequisites import require_module

pylsl = require_module("pylsl", "lsl")

from pipeline.store.spool import Spool  # noqa: E402
from sensors.types import STANDARD_GRAVITY, Side  # noqa: E402

FS = 200.0
GAP = range(600, 650)  # samples the right sender never sends


def outlet(name: str) -> object:
    info = pylsl.StreamInfo(name, "IMU", 6, FS, "double64", f"src-{name}")
    channels = info.desc().append_child("channels")
    for label, unit in zip(
        ("ax", "ay", "az", "gx", "gy", "gz"), ["g"] * 3 + ["deg/s"] * 3, strict=True
    ):
        c = channels.append_child("channel")
        c.append_child_value("label", label)
        c.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


def test_two_lsl_streams_are_the_wrists(tmp_path: Path) -> None:
    names = [f"mw-in-{os.getpid()}-{s}" for s in "LR"]
    outlets = [outlet(n) for n in names]
    monitor = subprocess.Popen(
        [
            *(sys.executable, "-m", "pipeline.cli", "--data-dir", str(tmp_path / "d"), "monitor"),
            *("--subject", "s", "--source", f"lsl:{names[0]},{names[1]}", "--store-samples"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert all(o.wait_for_consumers(30) for o in outlets)  # type: ignore[attr-defined]
        time.sleep(0.5)  # the session starts after subscribing
        t0, sent = pylsl.local_clock(), 0
        while sent < 1600:  # 8 s
            due = int((pylsl.local_clock() - t0) * FS) - sent
            if due > 0:
                idx = np.arange(sent, sent + due)
                stamps = t0 + idx / FS * (1 + 50e-6)  # a sender's clock 50 ppm fast
                for k, o in enumerate(outlets):
                    keep = ~np.isin(idx, GAP) if k == 1 else np.ones(len(idx), bool)
                    v = np.column_stack(
                        [
                            idx * 1e-3,
                            np.ones(len(idx)),
                            np.zeros((len(idx), 3)),
                            np.full(len(idx), 90.0),
                        ]
                    )
                    if keep.any():
                        o.push_chunk(v[keep], stamps[keep].tolist())  # type: ignore[attr-defined]
                sent += due
            time.sleep(0.005)
        del outlets[:], o  # the senders go away (no reference left): the session ends
        _, err = monitor.communicate(timeout=60)
    finally:
        monitor.kill()
    assert monitor.returncode == 0, err
    with Spool.in_dir(tmp_path / "d") as spool:
        session = spool.session("latest")
        assert session.source == f"lsl:{names[0]},{names[1]}"
        for side in Side:
            block = spool.samples(session.id, side)
            assert block is not None
            idx = np.round(block.acc[:, 0] / STANDARD_GRAVITY * 1e3).astype(int)
            np.testing.assert_allclose(block.acc[:, 1], STANDARD_GRAVITY)
            np.testing.assert_allclose(block.gyr[:, 2], np.pi / 2)  # type: ignore[index]
            residual = block.t - idx / FS * (1 + 50e-6)
            spread = residual.max() - residual.min()
            print(f"\n{side}: {len(idx)} samples, time residual spread {spread * 1e6:.1f} µs")
            assert spread < 1e-3
            assert idx[-1] >= 1590  # the last few may go down with a sender that quits
            gap = set(GAP) if side is Side.R else set()
            expected = sorted(set(range(idx[0], idx[-1] + 1)) - gap)
            assert idx.tolist() == expected
