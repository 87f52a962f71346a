"""Session-wide servers for the delivery tests; each is stopped when the run ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import InfluxDB1, VictoriaMetrics


@pytest.fixture(scope="session")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path_factory.mktemp("vm") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vm_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics behind HTTP basic auth: any InfluxDB token gets a real 401."""
    server = VictoriaMetrics(tmp_path_factory.mktemp("vm-auth") / "data", auth=("mw", "s3cret"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxdb1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    root: Path = tmp_path_factory.mktemp("influxd") / "root"
    server = InfluxDB1(root, user="mw", password="pw-1", database="mirrorwatch")
    server.start()
    yield server
    server.stop()
