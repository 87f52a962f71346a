"""`monitor --source ble --lsl` with an emulated Verity Sense (left) and MetaMotion (right):
a LabRecorder-style recorder (tests/lsl/labrecorder.py) on loopback receives both wrists
at their nominal rates, with sensor-derived timestamps, and the movement markers, which
equal the events the spool stored."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from conftest import Rig
from prerequisites import require_module
from test_vendor_sensors import META, POLAR, vendor_pair

require_module("pylsl", "lsl")

if "LSLAPICFG" not in os.environ:  # loopback only, as tests/lsl/conftest.py sets it up
    _cfg = Path(tempfile.mkdtemp(prefix="mw-lsl-")) / "lsl_api.cfg"
    _cfg.write_text(
        "[ports]\nIPv6 = disable\n[multicast]\nResolveScope = machine\n"
        "[lab]\nKnownPeers = {127.0.0.1}\n[log]\nlevel = -3\n"
    )
    os.environ["LSLAPICFG"] = str(_cfg)
sys.path.insert(0, str(Path(__file__).parents[2] / "lsl"))

from labrecorder import Recorder  # noqa: E402  (after the skip and the config)


def test_monitor_publishes_two_makes_and_markers_to_a_recorder(rig: Rig, tmp_path: Path) -> None:
    vendor_pair(rig)
    name = f"mw-ble-{os.getpid()}"
    config = tmp_path / "mirrorwatch.toml"
    config.write_text(
        f'[ble]\nleft = "{POLAR}"\nright = "{META}"\nodr_hz = 100\n\n'
        f'[lsl]\nname = "{name}"\nwait = 30.0\n'
    )
    data = tmp_path / "data"
    base = [sys.executable, "-m", "pipeline.cli", "--data-dir", str(data), "--config", str(config)]
    proc = subprocess.Popen(
        [*base, "monitor", "--source", "ble", "--subject", "s1", "--lsl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        recorder = Recorder([f"{name} L", f"{name} R", f"{name} events"])
        time.sleep(16.0)  # both wrists connect and stream; taps every 4 s
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    recorder.join(30)
    left, right, markers = recorder.streams

    for wrist, rate in ((left, 104.0), (right, 100.0)):
        # the outlets exist before the sensors answer: their nominal rate is the
        # configured odr_hz, also for the Verity Sense that streams its nearest 104 Hz
        nominal = re.search(r"<nominal_srate>([^<]+)</nominal_srate>", wrist.header)
        assert nominal is not None
        assert float(nominal.group(1)) == 100.0
        stamps = np.asarray(wrist.stamps)
        values = np.asarray(wrist.values)
        step = float(np.median(np.diff(stamps)))
        print(f"{wrist.name}: {len(stamps)} samples, median step {step * 1e3:.2f} ms")
        assert len(stamps) > 8 * rate
        assert np.all(np.diff(stamps) > 0)
        assert abs(step - 1 / rate) < 0.002  # the MetaMotion's in whole 1.465 ms ticks
        assert np.all(np.isfinite(values))  # gyro too: both makes have one
        assert float(np.median(values[:, 2])) > 9.0  # resting: gravity on z, m/s^2

    listed = subprocess.run(
        [*base, "events", "--session", "latest", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    stored = [{k: v for k, v in json.loads(x).items() if k != "session"} for x in listed]
    sent = [json.loads(v[0]) for v in markers.values]
    movements = [doc for doc in sent if doc["type"] == "movement"]
    print(f"{len(movements)} movement markers: {[m['kind'] for m in movements]}")
    assert stored, "monitor decided no movement: the test shows nothing"
    assert movements == stored
