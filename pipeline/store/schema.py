"""The spool's SQLite schema, its version and the migrations between versions.

Version 1: sessions, events, samples. Version 2 adds what delivery to InfluxDB
needs: a `link` table (measurement `link`), one delivery cursor per stream
(everything with a row id at or below it was acknowledged by the server or
quarantined), the quarantine of rows a server refused, and drop counters for
the size bound. Version 3: a session's progress, losses and end. Version 4: a
`verdicts` table, the assessment verdicts waiting for delivery (measurement
`verdict`).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 4

STREAMS = ("events", "link", "samples")
"""The tables drained to the server as of version 2 (version 4 adds `verdicts`)."""

_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        source TEXT NOT NULL,
        mode TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        meta TEXT NOT NULL
    )""",
    # AUTOINCREMENT: ids are never reused, even after the newest rows were
    # drained and deleted, so "everything above id N" stays a valid cursor.
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        t_onset REAL NOT NULL,
        active TEXT NOT NULL CHECK (active IN ('L', 'R')),
        kind TEXT NOT NULL,
        grade INTEGER NOT NULL CHECK (grade BETWEEN 0 AND 4),
        data TEXT NOT NULL
    )""",
    "CREATE INDEX events_session ON events (session_id, t_onset)",
    """CREATE TABLE samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        side TEXT NOT NULL CHECK (side IN ('L', 'R')),
        t REAL NOT NULL,
        ax REAL NOT NULL, ay REAL NOT NULL, az REAL NOT NULL,
        gx REAL, gy REAL, gz REAL
    )""",
    # Index entries carry the rowid, so this also serves "ORDER BY id" per side.
    "CREATE INDEX samples_session_side ON samples (session_id, side)",
    "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
)

_V1_TO_V2 = (
    """CREATE TABLE link (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        side TEXT NOT NULL CHECK (side IN ('L', 'R')),
        t REAL NOT NULL,
        battery REAL,
        rssi REAL,
        lost INTEGER NOT NULL CHECK (lost >= 0),
        reconnects INTEGER NOT NULL CHECK (reconnects >= 0)
    )""",
    # delivered_id: the cursor; dropped: rows the size bound removed before delivery.
    """CREATE TABLE delivery (
        stream TEXT PRIMARY KEY,
        delivered_id INTEGER NOT NULL,
        dropped INTEGER NOT NULL
    )""",
    *(f"INSERT INTO delivery VALUES ('{s}', 0, 0)" for s in STREAMS),
    """CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        stream TEXT NOT NULL,
        row_id INTEGER NOT NULL,
        line TEXT NOT NULL,
        message TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
)

_V2_TO_V3 = (
    # progress_t: session time (s) covered by the last commit; progress_at: its wall
    # time; lost_samples: raw samples not stored (store too slow); end_reason: how
    # it ended ("source ended", "stopped", "interrupted" when closed by recovery);
    # owner: "<boot id>:<pid>" of the process running it, to tell a dead one at once.
    "ALTER TABLE sessions ADD COLUMN progress_t REAL",
    "ALTER TABLE sessions ADD COLUMN progress_at REAL",
    "ALTER TABLE sessions ADD COLUMN lost_samples INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE sessions ADD COLUMN end_reason TEXT",
    "ALTER TABLE sessions ADD COLUMN owner TEXT",
    "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
)

_V3_TO_V4 = (
    # One row per hand of a finished assessment: t the session time the verdict was
    # reached (its point's timestamp), data the hand's verdict as `assess --json` prints it.
    """CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        t REAL NOT NULL,
        task_hand TEXT NOT NULL CHECK (task_hand IN ('L', 'R')),
        data TEXT NOT NULL
    )""",
    "INSERT INTO delivery VALUES ('verdicts', 0, 0)",
    "UPDATE meta SET value = '4' WHERE key = 'schema_version'",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1_TO_V2, 2: _V2_TO_V3, 3: _V3_TO_V4}
"""Statements that take a spool from version N to N + 1."""


def create(db: sqlite3.Connection) -> None:
    """Create the current schema in an empty database (inside the caller's transaction)."""
    for statement in _V1:
        db.execute(statement)
    migrate(db, 1)


def migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a spool from `version` to SCHEMA_VERSION (inside the caller's transaction).

    Rows stored before version 2 start undelivered: nothing was ever sent.
    """
    while version < SCHEMA_VERSION:
        for statement in MIGRATIONS[version]:
            db.execute(statement)
        version += 1
