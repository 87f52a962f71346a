"""An assessment's verdict reaches InfluxDB as measurement `verdict`, through the spool.

`assess` runs as a user runs it against real servers (VictoriaMetrics for the v2 write
API, influxd 1.6.7 for v1); the points must carry what `assess --json` printed. With
the server away during the whole assessment, the verdict waits in the spool and a
later `push` delivers it: an outage loses nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from servers import InfluxDB1, VictoriaMetrics, free_port, python_env
from test_influx_v1 import series

from pipeline.store.lineproto import wall_ns
from pipeline.store.outbox import Stream
from pipeline.store.spool import Spool

REPO_ROOT = Path(__file__).resolve().parents[3]

# rest, then one tapping task per hand: a few seconds at --speed max
PROTOCOL = """
name = "tiny"
countdown = 1.0
rest = 2.0
[limits]
mirror_share = 0.3
median_ratio = 0.15
worst_grade = 2
[[task]]
name = "rest"
instruction = "Sit still."
active = "none"
duration = 4.0
[[task]]
name = "tap-R"
instruction = "Tap right."
active = "R"
motion = "tapping"
period = 2.0
repetitions = 4
[[task]]
name = "tap-L"
instruction = "Tap left."
active = "L"
motion = "tapping"
period = 2.0
repetitions = 4
"""


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _assess(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    protocol = tmp_path / "tiny.toml"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    run = _run(
        tmp_path, env, "assess", "--protocol", str(protocol), "--subject", "S09",
        "--source", "simulated", "--speed", "max", "--yes", "--seed", "4", "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    doc: dict[str, Any] = json.loads(run.stdout)
    return doc


def _env(tmp_path: Path, url: str, token: str = "any-token") -> dict[str, str]:
    return python_env(
        {
            "MIRRORWATCH_DATA_DIR": str(tmp_path / "data"),
            "MIRRORWATCH_INFLUX_URL": url,
            "MIRRORWATCH_INFLUX_ORG": "mirrorwatch",
            "MIRRORWATCH_INFLUX_BUCKET": "mirrorwatch",
            "MIRRORWATCH_INFLUX_TOKEN": token,
            "PYTHONPATH": str(REPO_ROOT),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }
    )


def _check_vm(vm: VictoriaMetrics, doc: dict[str, Any]) -> None:
    session = str(doc["session"])
    for hand in doc["hands"]:
        labels = {
            "subject": "S09",
            "session": session,
            "task_hand": hand["task_hand"],
            "mirror_hand": hand["mirror_hand"],
            "state": hand["state"],
        }
        for field, value in (
            ("movements", hand["movements"]),
            ("mirror", hand["mirror"]),
            ("mirror_share", hand["mirror_share"]),
            ("limit_mirror_share", hand["limits"]["mirror_share"]),
            ("limit_worst_grade", hand["limits"]["worst_grade"]),
            ("tasks_done", hand["tasks_done"]),
        ):
            metric = f"verdict_{field}"
            points = vm.points(metric, session, 2)
            points = [p for p in points if p[2] == {"__name__": metric, **labels}]
            assert [p[1] for p in points] == [value], (field, hand)


def test_the_verdict_arrives_with_what_assess_printed(vm: VictoriaMetrics, tmp_path: Path) -> None:
    doc = _assess(tmp_path, _env(tmp_path, vm.url))
    assert doc["complete"] is True
    _check_vm(vm, doc)
    with Spool.in_dir(tmp_path / "data") as spool:
        assert spool.delivery_status().total_pending == 0  # delivered before exit


def test_a_verdict_reached_during_an_outage_waits_in_the_spool(
    vm: VictoriaMetrics, tmp_path: Path
) -> None:
    away = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    doc = _assess(tmp_path, _env(tmp_path, away))
    with Spool.in_dir(tmp_path / "data") as spool:
        assert len(spool.pending(Stream.VERDICTS, 10)) == 2
    push = _run(tmp_path, _env(tmp_path, vm.url), "push")
    assert push.returncode == 0, push.stderr
    _check_vm(vm, doc)


def test_the_verdict_arrives_through_the_v1_api(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    (tmp_path / "mirrorwatch.toml").write_text('[influx]\napi = "v1"\nbucket = "mirrorwatch"\n')
    env = _env(tmp_path, influxdb1.url, f"{influxdb1.user}:{influxdb1.password}")
    doc = _assess(tmp_path, env)
    session = str(doc["session"])
    rows = series(
        influxdb1,
        "SELECT task_hand, mirror_hand, state, movements, mirror_share, worst_grade,"
        f" limit_median_ratio FROM verdict WHERE session = '{session}'",
    )
    with Spool.in_dir(tmp_path / "data") as spool:
        info = spool.session(session)
        origin = float(info.meta.get("clock_origin", info.started_at))
        [t] = {r[0] for r in spool.query("SELECT t FROM verdicts WHERE session_id = ?", (session,))}
    expected = [
        [
            wall_ns(origin, t),
            h["task_hand"],
            h["mirror_hand"],
            h["state"],
            h["movements"],
            h["mirror_share"],
            h["worst_grade"],
            h["limits"]["median_ratio"],
        ]
        for h in doc["hands"]
    ]
    assert sorted(rows, key=lambda r: str(r[1])) == sorted(expected, key=lambda r: str(r[1]))
