"""The `api = "v1"` transport against the real influxd 1.6.7, authentication on."""

from __future__ import annotations

import random
from pathlib import Path

from servers import InfluxDB1
from spooldata import T0, movement, session

from pipeline.events import Kind
from pipeline.settings import InfluxSettings
from pipeline.store.influx import MAX_QUARANTINE_STREAK, Failure, InfluxWriter, transport_for
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
