"""The spool: schema, durability, round trips, session references, concurrency."""

from __future__ import annotations

import calendar
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.engine.events import Kind, MovementEvent
from pipeline.store.sessions import SessionInfo
from pipeline.store.spool import (
    SCHEMA_VERSION,
    Spool,
    SpoolError,
    StoredEvent,
)
from sensors.types import FloatArray, ImuBlock, Side

REPO_ROOT = Path(__file__).resolve().parents[2]
T0 = float(calendar.timegm((2026, 11, 26, 10, 53, 42, 0, 0, 0)))  # 2026-11-26 10:53:42 UTC


def event(t: float, *, grade: int = 2, kind: Kind = Kind.MIRROR) -> MovementEvent:
    """An event whose numbers are already rounded as events.py writes them."""
    return MovementEvent(
        t_onset=t,
        t_offset=round(t + 0.76, 3),
        active=Side.R,
        kind=kind,
        mirror_ratio=0.18,
        lag_ms=42.0,
        coupling=0.81,
        grade=grade,
        peak_active=2.1,
        peak_contra=0.3812,
        completeness={Side.L: 1.0, Side.R: 0.975},
        detected_at=round(t + 0.07, 3),
        decided_at=round(t + 0.86, 3),
        task="finger_tap",
    )


def unimanual(t: float) -> MovementEvent:
    """An event with every optional field empty."""
    return MovementEvent(
        t_onset=t,
        t_offset=None,
        active=Side.L,
        kind=Kind.UNIMANUAL,
        mirror_ratio=0.0,
        lag_ms=None,
        coupling=0.0,
        grade=0,
        peak_active=1.5,
        peak_contra=0.0,
        completeness={Side.L: 1.0, Side.R: 1.0},
        detected_at=round(t + 0.05, 3),
        decided_at=round(t + 0.9, 3),
    )


def block(
    side: Side, t: Sequence[float] | FloatArray, *, gyro: bool = True, seed: int = 0
) -> ImuBlock:
    rng = np.random.default_rng(seed)
    n = len(t)
    return ImuBlock(
        side=side,
        t=np.asarray(t, dtype=np.float64),
        acc=rng.normal(0.0, 3.0, size=(n, 3)),
        gyr=rng.normal(0.0, 1.0, size=(n, 3)) if gyro else None,
    )


def start(spool: Spool, started_at: float = T0, subject: str = "P01") -> SessionInfo:
    return spool.start_session(
        subject=subject, source="simulated", mode="demo", started_at=started_at
    )


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool.in_dir(tmp_path) as s:
        yield s


# -- schema and file ----------------------------------------------------------


def test_new_file_gets_schema_and_version(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    with Spool.in_dir(data_dir) as s:
        assert s.path == data_dir / "spool.sqlite"
        assert s.counts() == {"sessions": 0, "events": 0, "samples": 0}
    db = sqlite3.connect(data_dir / "spool.sqlite")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    db.close()
    assert {"meta", "sessions", "events", "samples"} <= tables
    assert version == (str(SCHEMA_VERSION),)


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    Spool.in_dir(tmp_path).close()
    db = sqlite3.connect(tmp_path / "spool.sqlite")
    with db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    db.close()
    expected = rf"schema version {SCHEMA_VERSION + 1}, newer .* upgrade MirrorWatch"
    with pytest.raises(SpoolError, match=expected):
        Spool.in_dir(tmp_path)


def test_other_sqlite_files_are_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    db.close()
    with pytest.raises(SpoolError, match="not a MirrorWatch spool"):
        Spool(path)
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["photos"]
    db.close()


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    garbage = b"t,side,ax\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(SpoolError, match="cannot use the spool"):
        Spool(path)
    assert path.read_bytes() == garbage


def test_wal_mode_and_full_sync(spool: Spool) -> None:
    # journal_mode is stored in the file, so any connection sees it.
    db = sqlite3.connect(spool.path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()
    # synchronous is per connection: look at the spool's own (2 = FULL).
    assert spool._db.execute("PRAGMA synchronous").fetchone() == (2,)


# -- sessions ------------------------------------------------------------------


def test_session_id_is_utc_start_plus_random_suffix(spool: Spool) -> None:
    a, b = start(spool), start(spool)
    for info in (a, b):
        assert re.fullmatch(r"20261126-105342-[0-9a-f]{4}", info.id)
    assert a.id != b.id


@pytest.mark.parametrize("subject", ["P01", "sub-07_a.b", "x" * 32, "7"])
def test_pseudonyms_are_accepted(spool: Spool, subject: str) -> None:
    assert start(spool, subject=subject).subject == subject


@pytest.mark.parametrize(
    "subject",
    ["Jane Doe", "jane.doe@example.org", "", "-P01", ".hidden", "x" * 33, "P01\n", "Zoë"],
)
def test_non_pseudonyms_are_refused(spool: Spool, subject: str) -> None:
    with pytest.raises(SpoolError, match="subject must be a pseudonym"):
        start(spool, subject=subject)
    assert spool.counts()["sessions"] == 0


def test_sessions_are_listed_newest_first_with_event_counts(spool: Spool) -> None:
    old = start(spool, T0)
    new = start(spool, T0 + 86_400.0)
    spool.add_events(old.id, [event(1.0), event(2.0)])
    assert [(s.id, s.events) for s in spool.sessions()] == [(new.id, 0), (old.id, 2)]


def test_session_refs_latest_id_and_prefix(spool: Spool) -> None:
    with pytest.raises(SpoolError, match="'latest'"):
        spool.session("latest")
    first = start(spool, T0)  # 20261126-...
    second = start(spool, T0 + 86_400.0)  # 20261127-...
    assert spool.session("latest") == second
    assert spool.session(first.id) == first
    assert spool.session("20261126") == first
    assert spool.session(second.id[:-2]) == second
    with pytest.raises(SpoolError, match=r"'2026' is ambiguous: .*" + first.id):
        spool.session("2026")
    with pytest.raises(SpoolError, match="no session matches '1999'"):
        spool.session("1999")
    with pytest.raises(SpoolError, match="empty"):
        spool.session("")


def test_end_session(spool: Spool) -> None:
    info = start(spool)
    spool.end_session(info.id, T0 + 60.0)
    assert spool.session(info.id).ended_at == T0 + 60.0
    with pytest.raises(SpoolError, match="unknown session 'nope'"):
        spool.end_session("nope", T0)


# -- events --------------------------------------------------------------------


def test_add_events_returns_increasing_ids_in_decision_order(spool: Spool) -> None:
    a, b = start(spool), start(spool, T0 + 1.0)
    ids = spool.add_events(a.id, [event(12.34), unimanual(14.0)])
    ids += spool.add_events(b.id, [event(3.5, grade=4)])
    ids += spool.add_events(a.id, [event(20.125, kind=Kind.BIMANUAL, grade=0)])
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    assert [e.id for e in spool.events()] == ids
    assert [e.session_id for e in spool.events()] == [a.id, a.id, b.id, a.id]
    assert [e.event.t_onset for e in spool.events(a.id)] == [12.34, 14.0, 20.125]
    assert spool.add_events(a.id, []) == []


def test_add_events_stores_indexed_columns(spool: Spool) -> None:
    info = start(spool)
    spool.add_events(info.id, [event(12.34, grade=3)])
    db = sqlite3.connect(spool.path)
    row = db.execute("SELECT session_id, t_onset, active, kind, grade FROM events").fetchone()
    db.close()
    assert row == (info.id, 12.34, "R", "mirror", 3)


def test_a_batch_with_an_unserializable_event_stores_nothing(spool: Spool) -> None:
    info = start(spool)
    bad = replace(event(2.0), coupling=float("nan"))  # what a buggy engine could emit
    with pytest.raises(SpoolError, match="event 1 of the batch"):
        spool.add_events(info.id, [event(1.0), bad, event(3.0)])
    assert spool.events() == []


def test_a_batch_failing_inside_the_transaction_stores_nothing(spool: Spool) -> None:
    info = start(spool)
    # grade 7 serializes fine but violates the table's CHECK on the second insert.
    with pytest.raises(SpoolError, match="CHECK constraint"):
        spool.add_events(info.id, [event(1.0), event(2.0, grade=7)])
    assert spool.events() == []
    assert len(spool.add_events(info.id, [event(1.0)])) == 1


def test_unknown_sessions_are_refused(spool: Spool) -> None:
    with pytest.raises(SpoolError, match="unknown session 'nope'"):
        spool.add_events("nope", [event(1.0)])
    with pytest.raises(SpoolError, match="unknown session 'nope'"):
        spool.add_samples("nope", [block(Side.L, [0.0, 0.01])])
    with pytest.raises(SpoolError, match="unknown session 'nope'"):
        spool.events("nope")
    assert spool.counts() == {"sessions": 0, "events": 0, "samples": 0}


# -- raw samples ---------------------------------------------------------------


def test_samples_of_several_blocks_come_back_exactly(spool: Spool) -> None:
    info = start(spool)
    t = np.arange(1000) / 100.0 + 0.0031
    b1, b2 = block(Side.L, t[:400], seed=1), block(Side.L, t[400:], seed=2)
    r = block(Side.R, t[:10] + 0.004, gyro=False, seed=3)
    assert spool.add_samples(info.id, [b1]) == 400
    assert spool.add_samples(info.id, [r]) == 10
    assert spool.add_samples(info.id, [b2]) == 600
    left = spool.samples(info.id, Side.L)
    right = spool.samples(info.id, Side.R)
    assert left is not None
    assert right is not None
    assert left.side is Side.L
    np.testing.assert_array_equal(left.t, t)
    np.testing.assert_array_equal(left.acc, np.vstack([b1.acc, b2.acc]))
    assert left.gyr is not None
    assert b1.gyr is not None
    assert b2.gyr is not None
    np.testing.assert_array_equal(left.gyr, np.vstack([b1.gyr, b2.gyr]))
    np.testing.assert_array_equal(right.t, r.t)
    np.testing.assert_array_equal(right.acc, r.acc)
    assert right.gyr is None
    assert spool.counts()["samples"] == 1010
    assert spool.samples(start(spool).id, Side.L) is None


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (block(Side.L, [0.5, 0.6]), "must continue after t=1.0"),
        (block(Side.L, [1.0, 1.1]), "must continue after t=1.0"),
        (block(Side.L, [2.0, 2.1], gyro=False), "all have gyro or none"),
    ],
)
def test_samples_that_would_break_the_side_are_refused(
    spool: Spool, second: ImuBlock, message: str
) -> None:
    info = start(spool)
    spool.add_samples(info.id, [block(Side.L, [0.0, 1.0])])
    with pytest.raises(SpoolError, match=message):
        spool.add_samples(info.id, [second])
    assert spool.counts()["samples"] == 2


def test_non_finite_samples_are_refused(spool: Spool) -> None:
    info = start(spool)
    bad = block(Side.R, [0.0, 0.01, 0.02])
    assert bad.gyr is not None
    bad.gyr[1, 2] = np.inf
    with pytest.raises(SpoolError, match="non-finite"):
        spool.add_samples(info.id, [bad])
    assert spool.samples(info.id, Side.R) is None
    assert spool.add_samples(info.id, [block(Side.R, [])]) == 0


# -- durability and concurrency ---------------------------------------------------


def test_everything_survives_close_and_reopen(tmp_path: Path) -> None:
    meta = {"scenario": "mirror_mild", "fs": "100"}
    events = [event(12.34), unimanual(14.0), event(20.125, kind=Kind.INDETERMINATE)]
    samples = block(Side.L, np.arange(50) / 50.0)
    with Spool.in_dir(tmp_path) as s:
        info = s.start_session(
            subject="P01", source="replay:a.csv", mode="analyze", started_at=T0 + 0.25, meta=meta
        )
        ids = s.add_events(info.id, events)
        s.add_samples(info.id, [samples])
        s.end_session(info.id, T0 + 300.5)
    with Spool.in_dir(tmp_path) as s:
        assert s.sessions() == [
            SessionInfo(
                info.id,
                "P01",
                "replay:a.csv",
                "analyze",
                T0 + 0.25,
                T0 + 300.5,
                meta,
                3,
                end_reason="ended",
            )
        ]
        assert s.events(info.id) == [
            StoredEvent(i, info.id, e) for i, e in zip(ids, events, strict=True)
        ]
        back = s.samples(info.id, Side.L)
        assert back is not None
        np.testing.assert_array_equal(back.t, samples.t)
        np.testing.assert_array_equal(back.acc, samples.acc)
        assert s.counts() == {"sessions": 1, "events": 3, "samples": 50}


def test_a_second_spool_reads_what_the_first_committed(tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as writer, Spool.in_dir(tmp_path) as reader:
        info = start(writer)
        writer.add_events(info.id, [event(1.0)])
        assert reader.session("latest").id == info.id
        assert [e.event for e in reader.events()] == [event(1.0)]
        # A write transaction in progress elsewhere neither blocks nor leaks into reads.
        other = sqlite3.connect(tmp_path / "spool.sqlite", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM events")
        assert len(reader.events()) == 1
        other.execute("ROLLBACK")
        other.close()


def test_a_writer_waits_for_another_writer_instead_of_failing(spool: Spool) -> None:
    info = start(spool)
    other = sqlite3.connect(spool.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, other.execute, ("COMMIT",))
    began = time.monotonic()
    release.start()
    try:
        ids = spool.add_events(info.id, [event(1.0)])
    finally:
        release.join()
        other.close()
    assert time.monotonic() - began >= 0.25
    assert [e.id for e in spool.events()] == ids


CHILD = """
import json, os, signal, sys
from pathlib import Path
from pipeline.engine.events import MovementEvent
from pipeline.store.spool import Spool

spool = Spool(Path(sys.argv[1]))
info = spool.start_session(subject="P01", source="ble", mode="monitor", started_at=0.0)
events = [MovementEvent.from_json_dict(json.loads(line)) for line in sys.stdin]
ids = spool.add_events(info.id, events)
print(info.id, *ids, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint, no atexit
"""


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_events_survive_the_writer_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    events = [event(12.34), unimanual(14.0)]
    python_path = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        input="".join(json.dumps(e.to_json_dict()) + "\n" for e in events),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    session_id, *ids = child.stdout.split()
    # The child never closed: its commits are still only in the write-ahead log.
    assert path.with_name("spool.sqlite-wal").stat().st_size > 0
    with Spool(path) as s:
        assert s.events(session_id) == [
            StoredEvent(int(i), session_id, e) for i, e in zip(ids, events, strict=True)
        ]
