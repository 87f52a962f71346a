"""Delivery bookkeeping in the spool: migration from v1, cursors, quarantine, size bound."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.engine.events import Kind, MovementEvent
from pipeline.store import outbox
from pipeline.store.outbox import Outgoing, Stream
from pipeline.store.schema import SCHEMA_VERSION
from pipeline.store.spool import Spool
from sensors.types import ImuBlock, Side

T0 = 1_795_600_000.0

# The version-1 schema exactly as the first release created it (commit 879e0d5).
V1_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, subject TEXT NOT NULL, source TEXT NOT NULL,"
    " mode TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL, meta TEXT NOT NULL)",
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL"
    " REFERENCES sessions(id), t_onset REAL NOT NULL, active TEXT NOT NULL CHECK (active IN"
    " ('L', 'R')), kind TEXT NOT NULL, grade INTEGER NOT NULL CHECK (grade BETWEEN 0 AND 4),"
    " data TEXT NOT NULL)",
    "CREATE INDEX events_session ON events (session_id, t_onset)",
    "CREATE TABLE samples (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL"
    " REFERENCES sessions(id), side TEXT NOT NULL CHECK (side IN ('L', 'R')), t REAL NOT NULL,"
    " ax REAL NOT NULL, ay REAL NOT NULL, az REAL NOT NULL, gx REAL, gy REAL, gz REAL)",
    "CREATE INDEX samples_session_side ON samples (session_id, side)",
    "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
)


def event(t: float) -> MovementEvent:
    return MovementEvent(
        t_onset=t,
        t_offset=round(t + 0.5, 3),
        active=Side.L,
        kind=Kind.MIRROR,
        mirror_ratio=0.25,
        lag_ms=40.0,
        coupling=0.7,
        grade=2,
        peak_active=1.5,
        peak_contra=0.375,
        completeness={Side.L: 1.0, Side.R: 1.0},
        detected_at=round(t + 0.1, 3),
        decided_at=round(t + 0.9, 3),
    )


def samples(side: Side, n: int, start: float = 0.0) -> ImuBlock:
    rng = np.random.default_rng(11)
    t = start + np.arange(n) / 100.0
    return ImuBlock(side, t, rng.normal(size=(n, 3)), rng.normal(size=(n, 3)))


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool.in_dir(tmp_path) as s:
        yield s


def test_a_version_1_spool_is_migrated_with_its_rows_pending(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    db = sqlite3.connect(path)
    with db:
        for statement in V1_SCHEMA:
            db.execute(statement)
        db.execute(
            "INSERT INTO sessions VALUES ('20261126-100000-abcd', 'P01', 'ble', 'monitor', ?,"
            " NULL, '{}')",
            (T0,),
        )
        data = json.dumps(event(3.0).to_json_dict())
        db.execute(
            "INSERT INTO events (session_id, t_onset, active, kind, grade, data)"
            " VALUES ('20261126-100000-abcd', 3.0, 'L', 'mirror', 2, ?)",
            (data,),
        )
        db.execute(
            "INSERT INTO samples (session_id, side, t, ax, ay, az) VALUES"
            " ('20261126-100000-abcd', 'R', 0.5, 0.1, 9.8, 0.2)"
        )
    db.close()
    with Spool(path) as spool:
        assert [e.event for e in spool.events()] == [event(3.0)]
        status = spool.delivery_status()
        assert status.pending == {
            Stream.EVENTS: 1,
            Stream.VERDICTS: 0,
            Stream.LINK: 0,
            Stream.SAMPLES: 1,
        }
        assert status.oldest_pending == T0 + 0.5
        [line] = [o.line for o in spool.pending(Stream.SAMPLES, 10)]
        assert line == (
            "imu,subject=P01,session=20261126-100000-abcd,side=R ax=0.1,ay=9.8,az=0.2 "
            f"{int(T0 + 0.5) * 10**9 + 500_000_000}"
        )
        info = spool.start_session(subject="P02", source="x", mode="demo", started_at=T0)
        spool.add_link(info.id, Side.L, 1.0, battery=90.0)
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    db.close()
    with Spool(path) as spool:  # reopening a migrated spool changes nothing
        assert spool.delivery_status().total_pending == 3


def test_pending_rows_leave_only_when_marked_delivered(spool: Spool) -> None:
    info = spool.start_session(subject="P01", source="x", mode="demo", started_at=T0)
    ids = spool.add_events(info.id, [event(1.0), event(2.0), event(3.0)])
    first = spool.pending(Stream.EVENTS, 2)
    assert [o.row_id for o in first] == ids[:2]
    assert spool.pending(Stream.EVENTS, 2) == first  # reading is not delivering
    spool.acknowledge(first)
    assert [o.row_id for o in spool.pending(Stream.EVENTS, 10)] == ids[2:]
    spool.acknowledge(first[:1])  # a late, older acknowledgement
    assert [o.row_id for o in spool.pending(Stream.EVENTS, 10)] == ids[2:]
    status = spool.delivery_status()
    assert status.pending[Stream.EVENTS] == 1
    assert status.oldest_pending == T0 + 3.0
    assert status.last_delivery_at is not None
    assert len(spool.events()) == 3  # delivered events stay listable


def test_a_quarantined_row_is_set_aside_with_the_message(spool: Spool) -> None:
    info = spool.start_session(subject="P01", source="x", mode="demo", started_at=T0)
    ids = spool.add_events(info.id, [event(1.0), event(2.0)])
    bad = spool.pending(Stream.EVENTS, 1)[0]
    spool.quarantine(bad, "400: field type conflict")
    assert [o.row_id for o in spool.pending(Stream.EVENTS, 10)] == [ids[1]]
    assert spool.quarantined() == [(bad, "400: field type conflict")]
    assert spool.delivery_status().quarantined == 1


def test_quarantined_rows_come_back_oldest_first_per_stream(spool: Spool) -> None:
    info = spool.start_session(subject="P01", source="x", mode="demo", started_at=T0)
    spool.add_samples(info.id, [samples(Side.L, 2)])
    ids = spool.add_events(info.id, [event(1.0), event(2.0)])
    refused = spool.pending(Stream.SAMPLES, 1) + spool.pending(Stream.EVENTS, 2)[::-1]
    for item in refused:  # quarantined out of order, across streams
        spool.quarantine(item, "400: field type conflict")
    with spool.transaction() as db:
        again = outbox.quarantined(db)
    # events before samples, as the writer drains; within a stream, by row id
    assert [o for _, o in again] == [refused[2], refused[1], refused[0]]
    assert [o.row_id for _, o in again[:2]] == ids
    with spool.transaction() as db:
        outbox.release(db, [again[0][0]])
        outbox.refused_again(db, again[2][0], "400: still a conflict", T0)
    assert spool.quarantined() == [
        (refused[0], "400: still a conflict"),
        (refused[1], "400: field type conflict"),
    ]
    assert spool.delivery_status().quarantined == 2
    assert spool.delivery_status().total_pending == 1  # requeueing moves no cursor


def test_errors_are_remembered_for_status(spool: Spool) -> None:
    assert spool.delivery_status().last_error is None
    spool.note_delivery_error("http://db:8086 answered 503")
    status = spool.delivery_status()
    assert status.last_error == "http://db:8086 answered 503"
    assert status.last_error_at is not None


def test_link_rows_are_points(spool: Spool) -> None:
    info = spool.start_session(subject="P01", source="x", mode="demo", started_at=T0)
    spool.add_link(info.id, Side.R, 2.5, rssi=-70.0, lost=4, reconnects=1)
    [out] = spool.pending(Stream.LINK, 10)
    assert out == Outgoing(
        Stream.LINK,
        out.row_id,
        f"link,subject=P01,session={info.id},side=R lost=4i,reconnects=1i,rssi=-70.0 "
        f"{int(T0 + 2) * 10**9 + 500_000_000}",
    )


def test_the_size_bound_drops_raw_samples_before_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Spool.in_dir(tmp_path, max_bytes=400_000) as spool:
        info = spool.start_session(subject="P01", source="x", mode="demo", started_at=T0)
        spool.add_events(info.id, [event(float(i)) for i in range(50)])
        with caplog.at_level(logging.WARNING):
            for k in range(10):
                spool.add_samples(info.id, [samples(Side.L, 2000, start=k * 20.0)])
        status = spool.delivery_status()
        kept = spool.counts()["samples"]
        assert status.dropped[Stream.SAMPLES] == 20_000 - kept > 0
        assert status.dropped[Stream.EVENTS] == 0
        assert len(spool.events()) == 50
        # the oldest samples went; what is left is the newest, still pending in order
        left = spool.samples(info.id, Side.L)
        assert left is not None
        assert left.t[-1] == pytest.approx(199.99)
        assert status.pending[Stream.SAMPLES] == kept
        assert spool.pending(Stream.SAMPLES, 1)[0].row_id == 20_000 - kept + 1
    assert any("dropped" in r.getMessage() and "samples" in r.getMessage() for r in caplog.records)


def test_delivered_rows_make_room_before_anything_is_dropped(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path, max_bytes=600_000) as spool:
        info = spool.start_session(subject="P01", source="x", mode="demo", started_at=T0)
        spool.add_samples(info.id, [samples(Side.L, 3000)])
        assert spool.counts()["samples"] == 3000
        spool.acknowledge(spool.pending(Stream.SAMPLES, 3000))
        for k in range(1, 4):
            spool.add_samples(info.id, [samples(Side.L, 1000, start=k * 30.0)])
        status = spool.delivery_status()
        assert set(status.dropped.values()) == {0}
        assert status.pending[Stream.SAMPLES] == 3000
        assert spool.counts()["samples"] < 6000


def test_a_batch_dropped_while_in_flight_and_then_taken_is_not_counted_as_dropped(
    tmp_path: Path,
) -> None:
    with Spool.in_dir(tmp_path, max_bytes=600_000) as spool:
        info = spool.start_session(subject="P01", source="x", mode="demo", started_at=T0)
        spool.add_samples(info.id, [samples(Side.L, 3000)])
        in_flight = spool.pending(Stream.SAMPLES, 1000)
        for k in range(1, 4):  # the disk guard prunes the oldest, in flight among them
            spool.add_samples(info.id, [samples(Side.L, 1000, start=k * 30.0)])
        dropped = spool.delivery_status().dropped[Stream.SAMPLES]
        assert dropped > 1000
        spool.acknowledge(in_flight)  # the server took them after all
        status = spool.delivery_status()
        assert status.dropped[Stream.SAMPLES] == dropped - 1000
        assert status.pending[Stream.SAMPLES] == spool.counts()["samples"]


def test_only_events_left_then_events_go_too(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path, max_bytes=200_000) as spool:
        info = spool.start_session(subject="P01", source="x", mode="demo", started_at=T0)
        for k in range(10):
            spool.add_events(info.id, [event(k * 100.0 + i) for i in range(100)])
        status = spool.delivery_status()
        assert 0 < status.dropped[Stream.EVENTS] < 1000
        assert spool.counts()["events"] == 1000 - status.dropped[Stream.EVENTS]
        assert spool.events()[-1].event == event(999.0)
