"""The `api = "v1"` transport against the real influxd 1.6.7, authentication on."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from pathlib import Path

from servers import InfluxDB1, python_env
from spooldata import T0, block, movement, session

from pipeline.engine.events import Kind
from pipeline.settings import InfluxSettings
from pipeline.store.influx import (
    MAX_QUARANTINE_STREAK,
    Failure,
    InfluxWriter,
    Transport,
    transport_for,
)
from pipeline.store.lineproto import wall_ns
from pipeline.store.outbox import Stream
from pipeline.store.spool import Spool
from sensors.types import Side


def v1(server: InfluxDB1, password: str = "", database: str = "") -> InfluxSettings:
    return InfluxSettings(
        url=server.url,
        org="",
        bucket=database or server.database,
        token=f"{server.user}:{password or server.password}",
        api="v1",
    )


def series(server: InfluxDB1, q: str, database: str = "") -> list[list[object]]:
    result = server.query(q, database=database)
    [statement] = result["results"]  # type: ignore[misc]
    if "series" not in statement:
        return []
    [one] = statement["series"]
    return list(one["values"])


def test_rows_arrive_through_the_v1_write_api(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        info = session(spool, subject="V1a")
        spool.add_events(info.id, [movement(2.0, task="cup"), movement(9.5, kind=Kind.UNIMANUAL)])
        spool.add_link(info.id, Side.R, 1.0, battery=55.0, rssi=-80.0, lost=0, reconnects=2)
        w = InfluxWriter(spool, transport_for(v1(influxdb1)), rng=random.Random(1))
        result = w.push(30.0)
        assert (result.sent, result.pending, result.error) == (3, 0, None)
        w.close()
    rows = series(
        influxdb1,
        f"SELECT mirror_ratio, grade, lag_ms, task, kind FROM movement WHERE session = '{info.id}'",
    )
    assert rows == [
        [wall_ns(T0, 2.0), 0.18, 2, 42.0, "cup", "mirror"],
        [wall_ns(T0, 9.5), 0.0, 0, None, None, "unimanual"],
    ]
    link = series(influxdb1, f"SELECT reconnects, battery FROM link WHERE session = '{info.id}'")
    assert link == [[wall_ns(T0, 1.0), 2, 55.0]]


def test_a_point_the_server_refuses_is_quarantined_and_the_rest_delivered(
    influxdb1: InfluxDB1, tmp_path: Path
) -> None:
    # An older writer stored lag_ms as text in this database: our float lag_ms
    # conflicts, and only events that have a lag (mirror events) carry that field.
    influxdb1.query("CREATE DATABASE legacy")
    influxdb1.write(f'movement,subject=OLD lag_ms="n/a" {wall_ns(T0, 0.0)}', "legacy")
    with Spool.in_dir(tmp_path) as spool:
        info = session(spool, subject="V1b")
        events = [
            movement(1.0, kind=Kind.UNIMANUAL),
            movement(2.0, kind=Kind.UNIMANUAL),
            movement(3.0),  # mirror: has lag_ms
            movement(4.0, kind=Kind.UNIMANUAL),
            movement(5.0, kind=Kind.BIMANUAL),
        ]
        ids = spool.add_events(info.id, events)
        settings = v1(influxdb1, database="legacy")
        w = InfluxWriter(spool, transport_for(settings), rng=random.Random(2))
        result = w.push(30.0)
        assert (result.sent, result.quarantined, result.pending) == (4, 1, 0)
        [(bad, message)] = spool.quarantined()
        assert (bad.stream, bad.row_id) == (Stream.EVENTS, ids[2])
        assert "field type conflict" in message
        assert message.startswith("400: ")
        w.close()
    q = f"SELECT peak_active FROM movement WHERE session = '{info.id}'"
    onsets = series(influxdb1, q, database="legacy")
    assert [row[0] for row in onsets] == [wall_ns(T0, t) for t in (1.0, 2.0, 4.0, 5.0)]


def test_a_wrong_password_is_a_clear_401(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        info = session(spool, subject="V1c")
        spool.add_events(info.id, [movement(1.0)])
        settings = v1(influxdb1, password="not-the-password")
        w = InfluxWriter(spool, transport_for(settings), rng=random.Random(3))
        result = w.push(30.0)
        w.close()
        assert result.error is not None
        assert result.error.kind is Failure.AUTH
        assert "401" in result.error.message
        assert "not-the-password" not in result.error.message
        assert result.pending == 1


def test_a_server_refusing_every_point_does_not_empty_the_spool_into_quarantine(
    influxdb1: InfluxDB1, tmp_path: Path
) -> None:
    # Here grade is text: every movement point conflicts, not just one.
    influxdb1.query("CREATE DATABASE hostile")
    influxdb1.write(f'movement,subject=OLD grade="two" {wall_ns(T0, 0.0)}', "hostile")
    with Spool.in_dir(tmp_path) as spool:
        info = session(spool, subject="V1d")
        spool.add_events(info.id, [movement(float(t)) for t in range(1, 41)])
        settings = v1(influxdb1, database="hostile")
        w = InfluxWriter(spool, transport_for(settings), rng=random.Random(4))
        result = w.push(30.0)
        w.close()
        assert result.error is not None
        assert result.error.kind is Failure.CONFIG
        assert "refuses every point" in result.error.message
        assert (result.sent, result.quarantined) == (0, MAX_QUARANTINE_STREAK)
        assert len(spool.quarantined()) == MAX_QUARANTINE_STREAK
        assert result.pending == 40 - MAX_QUARANTINE_STREAK


def test_quarantined_rows_are_requeued_once_the_server_takes_them(
    influxdb1: InfluxDB1, tmp_path: Path
) -> None:
    # As above: an older writer stored lag_ms as text, so mirror events conflict.
    influxdb1.query("CREATE DATABASE requeue")
    influxdb1.write(f'movement,subject=OLD lag_ms="n/a" {wall_ns(T0, 0.0)}', "requeue")
    settings = v1(influxdb1, database="requeue")
    data = tmp_path / "data"
    with Spool.in_dir(data) as spool:
        info = session(spool, subject="V1e")
        ids = spool.add_events(
            info.id,
            [
                movement(1.0, kind=Kind.UNIMANUAL),
                movement(2.0),
                movement(3.0),
                movement(4.0, kind=Kind.UNIMANUAL),
            ],
        )
        w = InfluxWriter(spool, transport_for(settings), rng=random.Random(5))
        assert w.push(30.0).quarantined == 2
        w.close()
        spool.add_events(info.id, [movement(5.0, kind=Kind.UNIMANUAL)])
    refused_at = _quarantined_at(data)

    # While the conflict stands: refused again, kept with the server's new answer;
    # the pending row goes all the same.
    (tmp_path / "mirrorwatch.toml").write_text('[influx]\napi = "v1"\nbucket = "requeue"\n')
    env = python_env(
        {
            "MIRRORWATCH_DATA_DIR": str(data),
            "MIRRORWATCH_INFLUX_URL": influxdb1.url,
            "MIRRORWATCH_INFLUX_TOKEN": f"{influxdb1.user}:{influxdb1.password}",
            "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
        }
    )
    cli = [sys.executable, "-m", "pipeline.cli", "push", "--requeue-quarantined"]
    run = subprocess.run(cli, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == (
        f"sent 1 rows to {influxdb1.url}, 0 pending\n"
        "requeued quarantined rows: 0 accepted, 2 refused again\n"
    )
    assert "refused 2 quarantined rows again" in run.stderr
    with Spool.in_dir(data) as spool:
        kept = spool.quarantined()
    assert [(o.stream, o.row_id) for o, _ in kept] == [
        (Stream.EVENTS, ids[1]),
        (Stream.EVENTS, ids[2]),
    ]
    assert all("field type conflict" in message for _, message in kept)
    assert all(a > b for a, b in zip(_quarantined_at(data), refused_at, strict=True))

    # The operator gives the database a new default retention policy (new shards,
    # no text lag_ms there). The quarantined events go first, in their order, then
    # what is pending: an event and samples.
    influxdb1.query("CREATE RETENTION POLICY fresh ON requeue DURATION INF REPLICATION 1 DEFAULT")
    sent: list[str] = []

    class Recording:
        def __init__(self, inner: Transport) -> None:
            self.inner = inner

        def write(self, lines: list[str]) -> None:
            self.inner.write(lines)
            sent.extend(lines)

        def close(self) -> None:
            self.inner.close()

    with Spool.in_dir(data) as spool:
        spool.add_events(info.id, [movement(6.0)])
        spool.add_samples(info.id, [block(Side.L, 3)])
        w = InfluxWriter(spool, Recording(transport_for(settings)), rng=random.Random(6))
        result = w.push(30.0, requeue_quarantined=True)
        w.close()
        assert (result.requeued, result.refused_again, result.sent, result.pending) == (2, 0, 4, 0)
        assert result.error is None
        assert spool.quarantined() == []
        assert spool.delivery_status().quarantined == 0
    times = [int(line.rsplit(" ", 1)[1]) for line in sent]
    assert [line.split(",", 1)[0] for line in sent] == ["movement"] * 3 + ["imu"] * 3
    assert times[:3] == [wall_ns(T0, t) for t in (2.0, 3.0, 6.0)]
    q = f"SELECT lag_ms FROM requeue.fresh.movement WHERE session = '{info.id}'"
    assert series(influxdb1, q, database="requeue") == [
        [wall_ns(T0, t), 42.0] for t in (2.0, 3.0, 6.0)
    ]


def _quarantined_at(data: Path) -> list[float]:
    db = sqlite3.connect(data / "spool.sqlite")
    try:
        return [r[0] for r in db.execute("SELECT at FROM quarantine ORDER BY row_id")]
    finally:
        db.close()
