"""Delivery bookkeeping inside the spool: pending rows, cursors, quarantine, size bound.

Functions here run on the spool's connection inside its transactions; `Spool`
exposes them as methods. A stream (table) is drained in row-id order; its
cursor says up to which id every row was acknowledged or quarantined, so a
restarted writer resumes exactly where the last acknowledgement left it.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter

from pipeline.store import lineproto


class Stream(StrEnum):
    """A spool table drained to the server, in sending order (events first)."""

    EVENTS = "events"
    VERDICTS = "verdicts"
    LINK = "link"
    SAMPLES = "samples"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One pending row as a line-protocol point."""

    stream: Stream
    row_id: int
    line: str


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """What `mirrorwatch status` shows about delivery.

    `oldest_pending` is the wall-clock time (unix s) of the oldest undelivered
    row's data, None when nothing is pending. `dropped` counts rows the size
    bound removed before they were delivered.
    """

    pending: dict[Stream, int]
    dropped: dict[Stream, int]
    quarantined: int
    oldest_pending: float | None
    last_error: str | None
    last_error_at: float | None
    last_delivery_at: float | None

    @property
    def total_pending(self) -> int:
        return sum(self.pending.values())


_ORIGIN = "COALESCE(CAST(json_extract(x.meta, '$.clock_origin') AS REAL), x.started_at)"
"""Unix time of a session's t = 0 on the data's own clock: a replayed recording's
start, or the host's start of a live session (meta `clock_origin` absent)."""

_PENDING_SQL = {
    Stream.EVENTS: f"""SELECT e.id, x.subject, x.id, {_ORIGIN}, e.data
        FROM events e JOIN sessions x ON x.id = e.session_id
        WHERE e.id > ? ORDER BY e.id LIMIT ?""",
    Stream.VERDICTS: f"""SELECT v.id, x.subject, x.id, {_ORIGIN}, v.t, v.data
        FROM verdicts v JOIN sessions x ON x.id = v.session_id
        WHERE v.id > ? ORDER BY v.id LIMIT ?""",
    Stream.LINK: f"""SELECT l.id, x.subject, x.id, {_ORIGIN}, l.side, l.t,
            l.battery, l.rssi, l.lost, l.reconnects
        FROM link l JOIN sessions x ON x.id = l.session_id
        WHERE l.id > ? ORDER BY l.id LIMIT ?""",
    # No join: sessions are looked up once per batch, which is most of a drain.
    Stream.SAMPLES: """SELECT id, session_id, side, t, ax, ay, az, gx, gy, gz
        FROM samples WHERE id > ? ORDER BY id LIMIT ?""",
}

_OLDEST_SQL = {
    Stream.EVENTS: f"""SELECT {_ORIGIN} + e.t_onset FROM events e
        JOIN sessions x ON x.id = e.session_id WHERE e.id > ? ORDER BY e.id LIMIT 1""",
    Stream.VERDICTS: f"""SELECT {_ORIGIN} + v.t FROM verdicts v
        JOIN sessions x ON x.id = v.session_id WHERE v.id > ? ORDER BY v.id LIMIT 1""",
    Stream.LINK: f"""SELECT {_ORIGIN} + l.t FROM link l
        JOIN sessions x ON x.id = l.session_id WHERE l.id > ? ORDER BY l.id LIMIT 1""",
    Stream.SAMPLES: f"""SELECT {_ORIGIN} + s.t FROM samples s
        JOIN sessions x ON x.id = s.session_id WHERE s.id > ? ORDER BY s.id LIMIT 1""",
}


def cursor(db: sqlite3.Connection, stream: Stream) -> int:
    row = db.execute("SELECT delivered_id FROM delivery WHERE stream = ?", (stream.value,))
    return int(row.fetchone()[0])


def pending(db: sqlite3.Connection, stream: Stream, limit: int) -> list[Outgoing]:
    """Up to `limit` undelivered rows of `stream`, oldest first, as points."""
    rows = db.execute(_PENDING_SQL[stream], (cursor(db, stream), limit)).fetchall()
    if stream is Stream.EVENTS:
        return [
            Outgoing(stream, r[0], lineproto.movement(r[1], r[2], r[3], json.loads(r[4])))
            for r in rows
        ]
    if stream is Stream.VERDICTS:
        return [
            Outgoing(stream, r[0], lineproto.verdict(r[1], r[2], r[3], r[4], json.loads(r[5])))
            for r in rows
        ]
    if stream is Stream.LINK:
        return [Outgoing(stream, r[0], lineproto.link(*r[1:])) for r in rows]
    out = []
    for session_id, group in itertools.groupby(rows, key=itemgetter(1)):
        batch = list(group)
        subject, started_at = db.execute(
            f"SELECT x.subject, {_ORIGIN} FROM sessions x WHERE x.id = ?", (session_id,)
        ).fetchone()
        lines = lineproto.imu_many(subject, session_id, started_at, (r[2:] for r in batch))
        out += [Outgoing(stream, r[0], line) for r, line in zip(batch, lines, strict=True)]
    return out


def mark_delivered(db: sqlite3.Connection, stream: Stream, upto: int) -> None:
    """Advance the cursor of `stream` to `upto` (never backwards)."""
    db.execute(
        "UPDATE delivery SET delivered_id = max(delivered_id, ?) WHERE stream = ?",
        (upto, stream.value),
    )


def acknowledge(db: sqlite3.Connection, rows: Sequence[Outgoing]) -> None:
    """The server took `rows` (consecutive pending rows of one stream): move the cursor.

    Rows of the batch the disk guard dropped while it was in flight were counted as
    dropped undelivered; the server has them after all, so they come off that count.
    """
    stream, first, last = rows[0].stream, rows[0].row_id, rows[-1].row_id
    (kept,) = db.execute(
        f"SELECT count(*) FROM {stream.value} WHERE id BETWEEN ? AND ?", (first, last)
    ).fetchone()
    if gone := len(rows) - int(kept):
        db.execute(
            "UPDATE delivery SET dropped = max(0, dropped - ?) WHERE stream = ?",
            (gone, stream.value),
        )
    mark_delivered(db, stream, last)


def quarantine(db: sqlite3.Connection, item: Outgoing, message: str, at: float) -> None:
    """Set a refused row aside with the server's message and move the cursor past it."""
    db.execute(
        "INSERT INTO quarantine (stream, row_id, line, message, at) VALUES (?, ?, ?, ?, ?)",
        (item.stream.value, item.row_id, item.line, message, at),
    )
    mark_delivered(db, item.stream, item.row_id)


def quarantined(db: sqlite3.Connection) -> list[tuple[int, Outgoing]]:
    """Every quarantined row as (quarantine id, point), in the order to send them again.

    Streams in sending order, rows by id within a stream: a stream's quarantined
    rows are older than its pending ones (the cursor moved past them), so sending
    them first keeps each stream oldest first. The point is the line the server
    refused, kept even when the size bound has since removed the row itself.
    """
    order = {s.value: i for i, s in enumerate(Stream)}
    rows = db.execute("SELECT id, stream, row_id, line FROM quarantine").fetchall()
    rows.sort(key=lambda r: (order[r[1]], r[2]))
    return [(r[0], Outgoing(Stream(r[1]), r[2], r[3])) for r in rows]


def release(db: sqlite3.Connection, ids: list[int]) -> None:
    """The server accepted these quarantined rows (quarantine ids): they leave the quarantine."""
    db.executemany("DELETE FROM quarantine WHERE id = ?", [(i,) for i in ids])


def refused_again(db: sqlite3.Connection, quarantine_id: int, message: str, at: float) -> None:
    """A quarantined row sent again was refused again: it stays, with the new message."""
    db.execute(
        "UPDATE quarantine SET message = ?, at = ? WHERE id = ?", (message, at, quarantine_id)
    )


def set_meta(db: sqlite3.Connection, values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def status(db: sqlite3.Connection) -> DeliveryStatus:
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    counts: dict[Stream, int] = {}
    dropped: dict[Stream, int] = {}
    oldest: list[float] = []
    for stream in Stream:
        done = cursor(db, stream)
        sql = f"SELECT count(*) FROM {stream.value} WHERE id > ?"
        counts[stream] = int(db.execute(sql, (done,)).fetchone()[0])
        row = db.execute("SELECT dropped FROM delivery WHERE stream = ?", (stream.value,))
        dropped[stream] = int(row.fetchone()[0])
        first = db.execute(_OLDEST_SQL[stream], (done,)).fetchone()
        if first is not None:
            oldest.append(float(first[0]))
    quarantined = int(db.execute("SELECT count(*) FROM quarantine").fetchone()[0])

    def number(key: str) -> float | None:
        return float(meta[key]) if key in meta else None

    return DeliveryStatus(
        pending=counts,
        dropped=dropped,
        quarantined=quarantined,
        oldest_pending=min(oldest) if oldest else None,
        last_error=meta.get("last_error"),
        last_error_at=number("last_error_at"),
        last_delivery_at=number("last_delivery_at"),
    )


# -- size bound ----------------------------------------------------------------

_ROW_BYTES = {Stream.SAMPLES: 128, Stream.LINK: 50, Stream.EVENTS: 400, Stream.VERDICTS: 600}
"""Rough bytes per row with its index entries: how many rows to delete per round. Raw
samples measured: 4096 rows take about 520 kB of pages; a guess below that deletes more
than asked (60 deleted twice as much)."""

# Delivered rows go first (they are safe in the server), then undelivered raw
# samples, link statistics, events, and verdicts last: two rows per assessment, and
# what an examiner decides on.
_PRUNED = (Stream.SAMPLES, Stream.LINK, Stream.EVENTS, Stream.VERDICTS)
_PRUNE_ORDER = (*((s, True) for s in _PRUNED), *((s, False) for s in _PRUNED))


def used_bytes(db: sqlite3.Connection) -> int:
    """Bytes of the database file in use (free pages excluded, WAL excluded)."""
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
    size = int(db.execute("PRAGMA page_size").fetchone()[0])
    return (pages - free) * size


# A full disk takes delivered raw samples and link rows, then undelivered raw samples,
# never events (a few hundred bytes each, and what `events` and `report` read here)
# or undelivered link rows: when those do not fit, the session ends (disk full).
_DISK_PRUNE_ORDER = ((Stream.SAMPLES, True), (Stream.LINK, True), (Stream.SAMPLES, False))


def enforce_bound(
    db: sqlite3.Connection, max_bytes: int, *, disk_full: bool = False
) -> dict[Stream, int]:
    """Delete oldest rows until the spool uses at most `max_bytes`; undelivered drops per stream.

    Every undelivered row deleted is added to its stream's `dropped` counter;
    the caller tells the user (`Spool` logs it, at most once a minute). With
    `disk_full` only raw samples and delivered link rows go.
    """
    lost: dict[Stream, int] = {}
    excess = 0
    for stream, delivered in _DISK_PRUNE_ORDER if disk_full else _PRUNE_ORDER:
        while (excess := used_bytes(db) - max_bytes) > 0:
            done = cursor(db, stream)
            n = max(16, excess // _ROW_BYTES[stream])
            where = "id <= ?" if delivered else "id > ?"
            ids = db.execute(
                f"SELECT id FROM {stream.value} WHERE {where} ORDER BY id LIMIT ?", (done, n)
            ).fetchall()
            if not ids:
                break
            db.execute(
                f"DELETE FROM {stream.value} WHERE id BETWEEN ? AND ? AND {where}",
                (ids[0][0], ids[-1][0], done),
            )
            if not delivered:
                lost[stream] = lost.get(stream, 0) + len(ids)
                # The cursor moves past dropped rows so they are not waited for.
                mark_delivered(db, stream, ids[-1][0])
        if excess <= 0:
            break
    for stream, n in lost.items():
        db.execute("UPDATE delivery SET dropped = dropped + ? WHERE stream = ?", (n, stream.value))
    return lost
