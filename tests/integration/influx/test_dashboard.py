"""docker-compose.yml and the Grafana dashboard agree with what the writer produces.

CI cannot run the containers; these checks catch a renamed field or a broken file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.store import lineproto

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "mirrorwatch.json"
COLUMNS = {"_measurement", "_field", "_value", "_time"}


VERDICT = {
    "task_hand": "L",
    "mirror_hand": "R",
    "state": "incomplete",
    "movements": 12,
    "mirror": 5,
    "mirror_share": 0.417,
    "median_ratio": 0.38,
    "worst_grade": 3,
    "limits": {"mirror_share": 0.3, "median_ratio": 0.15, "worst_grade": 2.0},
    "tasks_done": 1,
    "tasks_planned": 2,
}


def written_schema() -> dict[str, tuple[set[str], set[str]]]:
    """Measurement -> (tags, fields) parsed from points the writer formats."""
    event = {
        "t_onset": 1.0,
        "t_offset": 1.5,
        "active": "L",
        "kind": "mirror",
        "mirror_ratio": 0.2,
        "lag_ms": 40.0,
        "coupling": 0.8,
        "grade": 2,
        "peak_active": 1.0,
        "peak_contra": 0.2,
        "completeness": {"L": 1.0, "R": 1.0},
        "detected_at": 1.1,
        "decided_at": 2.0,
        "task": "tap",
    }
    lines = [
        lineproto.movement("P01", "s", 0.0, event),
        lineproto.imu("P01", "s", 0.0, "L", 0.0, (1.0, 2.0, 3.0), (0.1, 0.2, 0.3)),
        lineproto.link("P01", "s", 0.0, "L", 0.0, 80.0, -60.0, 1, 0),
        # every field present; a state without a space keeps the split below simple
        lineproto.verdict("P01", "s", 0.0, 90.0, VERDICT),
    ]
    schema = {}
    for line in lines:
        head, fields, _ = line.split(" ")
        name, *tags = head.split(",")
        schema[name] = (
            {t.split("=")[0] for t in tags},
            {f.split("=")[0] for f in fields.split(",")},
        )
    return schema


def queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = [t["query"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(found) == len(dashboard["panels"]) >= 6
    return found


def test_the_declared_schema_is_what_the_writer_writes() -> None:
    declared = {m: (set(t), set(f)) for m, (t, f) in lineproto.MEASUREMENTS.items()}
    assert written_schema() == declared


@pytest.mark.parametrize("query", queries())
def test_every_query_names_measurements_fields_and_tags_that_exist(query: str) -> None:
    schema = written_schema()
    measurements = re.findall(r'r\._measurement == "(\w+)"', query)
    assert measurements, query
    assert set(measurements) <= set(schema)
    tags = set().union(*(schema[m][0] for m in measurements))
    fields = set().union(*(schema[m][1] for m in measurements))
    assert set(re.findall(r'r\._field == "(\w+)"', query)) <= fields
    used = set(re.findall(r"\br\.(\w+)", query)) | set(
        c
        for cols in re.findall(r"columns: \[([^\]]*)\]", query)
        for c in re.findall(r'"(\w+)"', cols)
    )
    assert used <= tags | COLUMNS, used - tags - COLUMNS


def test_panels_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/influxdb.yml").read_text()
    )
    [source] = provisioned["datasources"]
    assert source["jsonData"]["version"] == "Flux"
    dashboard = json.loads(DASHBOARD.read_text())
    uids = {p["datasource"]["uid"] for p in dashboard["panels"]}
    assert uids == {source["uid"]}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.mark.requires_program("git", "git")  # asks git whether .env is ignored
def test_compose_file_is_complete_and_its_secrets_come_from_the_env_file() -> None:
    c = compose()
    assert set(c["services"]) == {"influxdb", "grafana", "mirrorwatch"}
    init = c["services"]["influxdb"]["environment"]
    for key in ("MODE", "USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN"):
        assert f"DOCKER_INFLUXDB_INIT_{key}" in init
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    example = (ROOT / "deploy" / "env.example").read_text()
    defined = set(re.findall(r"^(\w+)=", example, re.MULTILINE))
    assert used <= defined, used - defined
    for service in c["services"].values():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("./"):
                assert (ROOT / host).exists(), host
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored: it holds the tokens"


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False
    ).returncode,
    reason="no docker compose plugin on this machine",
)
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text((ROOT / "deploy" / "env.example").read_text())
    r = subprocess.run(
        ["docker", "compose", "--env-file", str(env), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
