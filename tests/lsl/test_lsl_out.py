"""`demo --lsl` to a LabRecorder-style recorder on loopback, then its XDF through `analyze`.

The recorder (labrecorder.py) subscribes to both wrists and the events while the demo
waits for it (`[lsl] wait`); it must receive every simulated sample with its session
time as the LSL timestamp (less one constant, the LSL time of session zero), the
events the spool holds as JSON markers stamped at their onsets, and the XDF it writes
must give `analyze` the demo's movements again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from prerequisites import require_module

require_module("pylsl", "lsl")
require_module("pyxdf", "lsl")

from labrecorder import Recorder  # noqa: E402  (after the skip: it imports pylsl)

from sensors.simulated import SimConfig, simulate  # noqa: E402
from sensors.types import Side  # noqa: E402

DEMO = ["--scenario", "mirror-strong", "--duration", "20", "--seed", "5", "--fs", "100"]


def cli(data: Path, config: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline.cli",
        "--data-dir",
        str(data),
        "--config",
        str(config),
        *args,
    ]


def test_demo_publishes_wrists_and_events_a_recorder_captures(tmp_path: Path) -> None:
    name = f"mw-test-{os.getpid()}"  # no other run's streams can answer
    config = tmp_path / "mirrorwatch.toml"
    config.write_text(f'[lsl]\nname = "{name}"\nwait = 30.0\n')
    data = tmp_path / "data"
    demo = subprocess.Popen(
        cli(data, config, "demo", *DEMO, "--speed", "1", "--lsl"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        recorder = Recorder([f"{name} L", f"{name} R", f"{name} events"])
        _, err = demo.communicate(timeout=90)
    finally:
        demo.kill()
    assert demo.returncode == 0, err
    recorder.join(30)
    wrists = {Side.L: recorder.streams[0], Side.R: recorder.streams[1]}
    markers = recorder.streams[2]

    sim = simulate("mirror-strong", SimConfig(fs=100.0, duration=20.0, seed=5))
    blocks = list(sim.blocks())
    origins = []
    for side, rec in wrists.items():
        mine = [b for b in blocks if b.side is side]
        t = np.concatenate([b.t for b in mine])
        values = np.concatenate([np.column_stack((b.acc, b.gyr)) for b in mine])
        stamps = np.asarray(rec.stamps)
        assert len(stamps) == len(t), (side, len(stamps), len(t))  # every sample, once
        np.testing.assert_array_equal(np.asarray(rec.values), values)  # double64: exact
        origin = stamps - t
        origins.append(float(np.median(origin)))
        residual = np.abs(origin - np.median(origin)).max()
        latency = np.asarray(rec.arrived) - stamps
        print(
            f"\n{side}: {len(t)} samples; stamp - (origin + session time): max {residual:.1e} s;"
            f" received after its stamp: median {np.median(latency) * 1e3:.1f} ms,"
            f" max {latency.max() * 1e3:.1f} ms"
        )
        assert residual < 1e-6
        assert np.median(latency) < 0.1  # published as the samples are due, at --speed 1
    assert abs(origins[0] - origins[1]) < 1e-6  # one origin for both wrists

    listed = subprocess.run(
        cli(data, config, "events", "--session", "latest", "--format", "json"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    stored = [{k: v for k, v in json.loads(x).items() if k != "session"} for x in listed]
    assert stored, "the demo decided no movement: the test shows nothing"
    sent = [(json.loads(v[0]), ts) for v, ts in zip(markers.values, markers.stamps, strict=True)]
    movements = [(doc, ts) for doc, ts in sent if doc["type"] == "movement"]
    assert [doc for doc, _ in movements] == stored
    for doc, ts in movements:
        assert abs(ts - origins[0] - doc["t_onset"]) < 5e-4  # the JSON's t_onset is in ms
    onsets = [doc for doc, _ in sent if doc["type"] == "onset"]
    assert len(onsets) >= len(stored)
    assert "lsl: published 2000 + 2000 samples" in err

    xdf = tmp_path / "session.xdf"
    recorder.write_xdf(xdf)
    analyzed = subprocess.run(
        cli(data, config, "analyze", str(xdf), "--json", "--no-store"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert analyzed.returncode == 0, analyzed.stderr
    again = [json.loads(x) for x in analyzed.stdout.splitlines()]
    # the same movements; the numbers differ in the third digit, as the XDF's session
    # zero is its first sample and the recorder's clock offsets shift each wrist by µs
    key = ("t_onset", "active", "kind", "grade")
    assert [[e[k] for k in key] for e in again] == [[e[k] for k in key] for e in stored]
    for a, b in zip(again, stored, strict=True):
        assert abs(a["mirror_ratio"] - b["mirror_ratio"]) < 0.01
