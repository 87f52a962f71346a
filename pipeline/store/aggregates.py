"""Workflow tables beside the spool's own: task timelines, hourly aggregates, warnings.

They live in the spool's SQLite file and use its connection and write transactions,
but are created and versioned here (meta key `aggregates_version`), so the spool's
own schema and its delivery machinery stay untouched. Rows name their session
without a foreign key: a spool that prunes sessions is not blocked by them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.store.spool import Spool
from sensors.types import Side

AGGREGATES_VERSION = 1

_TABLES = (
    """CREATE TABLE IF NOT EXISTS session_notes (
        session_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (session_id, key)
    )""",
    """CREATE TABLE IF NOT EXISTS hourly (
        session_id TEXT NOT NULL,
        hour INTEGER NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('L', 'R')),
        start REAL NOT NULL,
        seconds REAL NOT NULL,
        onsets INTEGER NOT NULL,
        mirror INTEGER NOT NULL,
        bimanual INTEGER NOT NULL,
        worn_s REAL NOT NULL,
        valid_s REAL NOT NULL,
        activity REAL NOT NULL,
        PRIMARY KEY (session_id, hour, side)
    )""",
    """CREATE TABLE IF NOT EXISTS warnings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        t REAL NOT NULL,
        side TEXT CHECK (side IN ('L', 'R')),
        kind TEXT NOT NULL,
        message TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS warnings_session ON warnings (session_id, t)",
    "INSERT OR REPLACE INTO meta (key, value) VALUES ('aggregates_version', '1')",
)


def _name(create: str) -> str:
    """The table a CREATE TABLE IF NOT EXISTS statement creates."""
    return create.split()[5]


@dataclass(frozen=True, slots=True)
class HourRow:
    """One wrist over one hour of a monitoring session.

    `hour` counts from the session start; `start` and `seconds` s of session time
    covered; `onsets` voluntary movements of this hand, `mirror`/`bimanual` of them;
    `worn_s` s the wrist was worn, `valid_s` s with data; `activity` rad/s mean
    angular speed while worn.
    """

    hour: int
    side: Side
    start: float
    seconds: float
    onsets: int
    mirror: int
    bimanual: int
    worn_s: float
    valid_s: float
    activity: float

    @property
    def mirror_per_100(self) -> float | None:
        """Mirror events per 100 voluntary onsets (None without onsets)."""
        return 100.0 * self.mirror / self.onsets if self.onsets else None


@dataclass(frozen=True, slots=True)
class DataWarning:
    """A data warning: `kind` e.g. "non-wear" or "swapped", at session time `t` s."""

    t: float
    side: Side | None
    kind: str
    message: str


class Aggregates:
    """The workflow tables of one open spool."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        if spool.read_only:
            # read-only media: missing tables read as empty, nothing is written
            have = {r[0] for r in spool.query("SELECT name FROM sqlite_master")}
            missing = [t for t in _TABLES if t.startswith("CREATE TABLE") and _name(t) not in have]
            spool.temporary_tables(missing)
            return
        with spool.transaction() as db:
            for statement in _TABLES:
                db.execute(statement)

    def set_note(self, session_id: str, key: str, value: str) -> None:
        """Attach a text value (e.g. a JSON task timeline) to a session."""
        with self._spool.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO session_notes (session_id, key, value) VALUES (?, ?, ?)",
                (session_id, key, value),
            )

    def note(self, session_id: str, key: str) -> str | None:
        rows = self._spool.query(
            "SELECT value FROM session_notes WHERE session_id = ? AND key = ?", (session_id, key)
        )
        return str(rows[0][0]) if rows else None

    def put_hours(self, session_id: str, rows: Sequence[HourRow]) -> None:
        """Store (or update) hourly rows in one transaction."""
        with self._spool.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO hourly (session_id, hour, side, start, seconds, onsets,"
                " mirror, bimanual, worn_s, valid_s, activity)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        r.hour,
                        r.side.value,
                        r.start,
                        r.seconds,
                        r.onsets,
                        r.mirror,
                        r.bimanual,
                        r.worn_s,
                        r.valid_s,
                        r.activity,
                    )
                    for r in rows
                ],
            )

    def hours(self, session_id: str) -> list[HourRow]:
        rows = self._spool.query(
            "SELECT hour, side, start, seconds, onsets, mirror, bimanual, worn_s, valid_s,"
            " activity FROM hourly WHERE session_id = ? ORDER BY hour, side",
            (session_id,),
        )
        return [
            HourRow(int(h), Side(s), a, sec, int(o), int(m), int(b), w, v, act)
            for h, s, a, sec, o, m, b, w, v, act in rows
        ]

    def add_warnings(self, session_id: str, warnings: Sequence[DataWarning]) -> None:
        if not warnings:
            return
        with self._spool.transaction() as db:
            db.executemany(
                "INSERT INTO warnings (session_id, t, side, kind, message) VALUES (?, ?, ?, ?, ?)",
                [
                    (session_id, w.t, None if w.side is None else w.side.value, w.kind, w.message)
                    for w in warnings
                ],
            )

    def warnings(self, session_id: str) -> list[DataWarning]:
        rows = self._spool.query(
            "SELECT t, side, kind, message FROM warnings WHERE session_id = ? ORDER BY t, id",
            (session_id,),
        )
        return [DataWarning(t, None if s is None else Side(s), k, m) for t, s, k, m in rows]
