"""The spool: the embedded, durable local store (DESIGN.md §5).

One SQLite file per data directory, in WAL mode with `synchronous=FULL`: a call
that stores events or samples returns only after its transaction is committed
and on disk. Rows get increasing integer ids, so a writer to InfluxDB can drain
them in order and remove them once the server acknowledged them.

A `Spool` object is one connection. It may be used from any thread (for example
via `asyncio.to_thread`) but by one caller at a time; other processes may open
the same file concurrently (WAL readers never block the writer).

Delivery (pipeline/store/outbox.py): each table is drained in id order up to a
cursor, and rows stay until the size bound (`max_bytes`) needs room: delivered
rows go first, then undelivered raw samples, link statistics and events last,
every undelivered drop counted and logged.

The file system may fill before that bound (pipeline/store/disk.py): when it
cannot hold a full WAL and the next commit (pipeline/store/room.py), delivered
rows and then raw samples make way, oldest first and counted the same way; events
and session bookkeeping are never dropped for room. A write that still finds the
disk full raises `SpoolFull`.

`Spool.for_reading` opens a spool that cannot be written (read-only media, a
directory that is not ours) query-only, see pipeline/store/readonly.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import private_files
from pipeline.engine.events import MovementEvent
from pipeline.store import connection, disk, outbox, owner, readonly, samples, sessions
from pipeline.store.errors import SpoolBusy, SpoolError, SpoolFull, SpoolGone
from pipeline.store.outbox import DeliveryStatus, Outgoing, Stream
from pipeline.store.room import DiskGuard
from pipeline.store.schema import SCHEMA_VERSION
from pipeline.store.sessions import SessionInfo
from sensors.types import ImuBlock, Side

SPOOL_FILENAME = "spool.sqlite"
SUBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another connection's write transaction, seconds."""
DROP_WARNING_S = 60.0
"""Store warnings (rows dropped by the size bound or by a session's writer, a busy
spool) are logged at most this often (s), as totals."""

__all__ = ["Spool", "SpoolBusy", "SpoolError", "SpoolFull", "SpoolGone", "StoredEvent"]

_SUBJECT_RE = re.compile(SUBJECT_PATTERN)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A movement event with its spool row id and session."""

    id: int
    session_id: str
    event: MovementEvent


class Spool:
    """Sessions, movement events and raw samples in one SQLite file."""

    def __init__(
        self, path: Path, *, max_bytes: int | None = None, read_only: bool = False
    ) -> None:
        """Open or create the spool at `path`; `max_bytes` bounds it (None: unbounded).

        `read_only`: open an existing spool query-only, never writing beside it.
        """
        self.path = path
        self.max_bytes = max_bytes
        self.read_only = read_only
        self.opened_as = "read-write"
        self._copy: Path | None = None  # the temporary copy a read-only spool reads
        self._untold: dict[Stream, int] = {}  # dropped rows not yet in a warning
        self._told_at = -DROP_WARNING_S
        self.guard = DiskGuard(self)  # full disk, vanished directory (pipeline/store/room.py)
        self.place: disk.Place | None = None  # where a writable spool was opened
        if read_only:
            self._open_read_only()
            return
        try:
            private_files.private_dir(path.parent)
        except OSError as exc:
            raise SpoolError(f"cannot create the spool directory {path.parent}: {exc}") from exc
        try:
            private_files.create_private(path)
        except OSError as exc:
            raise SpoolError(f"cannot create the spool {path}: {exc.strerror or exc}") from exc
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a commit
            # happens exactly where the docstrings say. check_same_thread=False
            # lets the session run calls in worker threads (one at a time).
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open the spool {path}: {exc}") from exc
        try:
            connection.setup(self._db, path)
            # only once it proved to be a spool: a foreign file is left as it was
            private_files.prepare_spool(path)
        except sqlite3.Error as exc:
            self._db.close()
            raise SpoolError(f"cannot use the spool {path}: {exc}") from exc
        except SpoolError:
            self._db.close()
            raise
        self.place = disk.Place.of(path)

    @classmethod
    def in_dir(cls, data_dir: Path, *, max_bytes: int | None = None) -> Spool:
        """The spool of a data directory (`<data_dir>/spool.sqlite`)."""
        return cls(data_dir / SPOOL_FILENAME, max_bytes=max_bytes)

    @classmethod
    def for_reading(cls, data_dir: Path, *, max_bytes: int | None = None) -> Spool:
        """The spool of a data directory, read-only if it cannot be written there.

        `opened_as` says how it was opened ("read-write", "read-only", ...).
        """
        path = data_dir / SPOOL_FILENAME
        if path.is_file() and not (disk.writable(data_dir) and os.access(path, os.R_OK | os.W_OK)):
            spool = cls(path, read_only=True)
            log.warning("%s cannot be written here: reading it %s", path, spool.opened_as)
            return spool
        try:
            return cls(path, max_bytes=max_bytes)
        except SpoolError as exc:
            if not path.is_file():
                raise
            # e.g. a full disk: SQLite cannot create its -shm; reading needs no room
            try:
                spool = cls(path, read_only=True)
            except SpoolError:
                raise exc from None
            log.warning("%s: %s; reading it %s", path, exc, spool.opened_as)
            return spool

    def _open_read_only(self) -> None:
        self._db, self._copy, self.opened_as = readonly.open_spool(
            self.path, BUSY_TIMEOUT_S, SCHEMA_VERSION
        )

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction, committed (and synced) when the block ends."""
        return connection.transaction(self._db, self.path)

    def _require_session(self, session_id: str) -> None:
        row = self._db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise SpoolError(f"unknown session {session_id!r}")

    # -- sessions --------------------------------------------------------------

    def start_session(
        self,
        *,
        subject: str,
        source: str,
        mode: str,
        started_at: float,
        meta: Mapping[str, str] | None = None,
    ) -> SessionInfo:
        """Record a new session; `subject` must be a pseudonym (SUBJECT_PATTERN)."""
        if not _SUBJECT_RE.fullmatch(subject):
            # The refused value is not echoed: it may be a real name headed for a log.
            raise SpoolError(
                "subject must be a pseudonym: letters, digits, '_', '.', '-', at most "
                "32 characters, starting with a letter or digit (no names, no e-mails)"
            )
        if not math.isfinite(started_at):
            raise SpoolError(f"session start must be a finite time, not {started_at}")
        meta_dict = dict(meta or {})
        self.close_interrupted(time.time())
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started_at))
        # Two sessions may start in the same second: retry on the rare id clash.
        for _ in range(16):
            session_id = f"{stamp}-{secrets.token_hex(2)}"
            with self._write() as db:
                if db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone():
                    continue
                db.execute(
                    "INSERT INTO sessions (id, subject, source, mode, started_at, meta)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, subject, source, mode, started_at, json.dumps(meta_dict)),
                )
            return SessionInfo(session_id, subject, source, mode, started_at, None, meta_dict, 0)
        raise SpoolError(f"could not find a free session id for {stamp}")

    def end_session(self, session_id: str, ended_at: float, reason: str = "ended") -> None:
        """Record when (unix seconds) and how a session ended."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?",
                (ended_at, reason, session_id),
            )
            if cursor.rowcount == 0:
                raise SpoolError(f"unknown session {session_id!r}")

    def note_progress(self, session_id: str, t: float, lost_samples: int) -> None:
        """A running session's sign of life: session time `t` s committed, samples lost."""
        with self._write() as db:
            db.execute(
                "UPDATE sessions SET progress_t = ?, progress_at = ?, lost_samples = ?,"
                " owner = ? WHERE id = ?",
                (t, time.time(), lost_samples, owner.current(), session_id),
            )

    def close_interrupted(self, now: float) -> list[SessionInfo]:
        """End the sessions whose process died; returns them.

        A session that noted progress but never ended is dead when its process is
        gone (same machine, same boot) or its last progress is
        `sessions.STALE_AFTER_S` old. It ends at its last progress, reason
        "interrupted"; what it had not committed is lost, and the warning says from
        which session time on. Sessions that never note progress are left as they are.
        """
        with self._write() as db:
            dead = sessions.close_dead(db, now)
        closed = [self.session(sid) for sid in dead]
        for info in closed:
            log.warning(
                "session %s never ended (process killed or power lost): closed; data after "
                "session time %.1f s was not committed and is lost",
                info.id,
                info.progress_t or 0.0,
            )
        return closed

    def sessions(self) -> list[SessionInfo]:
        """All sessions, newest first."""
        return sessions.newest_first(self._db)

    def session(self, ref: str) -> SessionInfo:
        """The session named by `ref`: an id, a unique id prefix, or "latest"."""
        try:
            return sessions.find(self._db, ref)
        except sessions.SessionError as exc:
            raise SpoolError(str(exc)) from None

    # -- events ----------------------------------------------------------------

    def add_events(self, session_id: str, events: Sequence[MovementEvent]) -> list[int]:
        """Store a batch of events atomically; committed on return. Returns their row ids."""
        rows = []
        for i, event in enumerate(events):
            try:
                d = event.to_json_dict()
                data = json.dumps(d, separators=(",", ":"), allow_nan=False)
            except ValueError as exc:
                raise SpoolError(f"event {i} of the batch cannot be stored: {exc}") from exc
            rows.append((session_id, d["t_onset"], d["active"], d["kind"], d["grade"], data))
        if not rows:
            return []
        ids = []
        with self._write() as db:
            self._require_session(session_id)
            for row in rows:
                cursor = db.execute(
                    "INSERT INTO events (session_id, t_onset, active, kind, grade, data)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
                assert cursor.lastrowid is not None  # always set after an INSERT
                ids.append(cursor.lastrowid)
        self._bound()
        return ids

    def events(self, session_id: str | None = None) -> list[StoredEvent]:
        """Stored events in decision order (row id), of one session or of all."""
        if session_id is None:
            rows = self._db.execute("SELECT id, session_id, data FROM events ORDER BY id")
        else:
            self._require_session(session_id)
            rows = self._db.execute(
                "SELECT id, session_id, data FROM events WHERE session_id = ? ORDER BY id",
                (session_id,),
            )
        return [
            StoredEvent(row_id, sid, MovementEvent.from_json_dict(json.loads(data)))
            for row_id, sid, data in rows
        ]

    # -- raw samples -----------------------------------------------------------

    def add_samples(self, session_id: str, blocks: Sequence[ImuBlock]) -> int:
        """Store the blocks' samples in one transaction; committed on return. Returns rows.

        Each block must continue its side's stored samples (later timestamps, gyro
        present or absent alike), so `samples()` can always rebuild a valid block.
        `seq` and `lost` are not stored: losses are reported with the link statistics.
        """
        with self._write() as db:
            self._require_session(session_id)
            try:
                rows = samples.insert(db, session_id, blocks)
            except samples.SampleError as exc:
                raise SpoolError(str(exc)) from None
        self._bound()
        return rows

    def samples(self, session_id: str, side: Side) -> ImuBlock | None:
        """All stored samples of one side as one block, None if there are none."""
        self._require_session(session_id)
        return samples.read(self._db, session_id, side)

    # -- link statistics ---------------------------------------------------------

    def add_link(
        self,
        session_id: str,
        side: Side,
        t: float,
        *,
        battery: float | None = None,
        rssi: float | None = None,
        lost: int = 0,
        reconnects: int = 0,
    ) -> int:
        """Store one wrist's link health at session time `t` (s); committed on return.

        `battery` %, `rssi` dBm (None when unknown); `lost` samples and
        `reconnects` since the session started (running totals). Returns the row id.
        """
        if not all(math.isfinite(x) for x in (t, battery or 0.0, rssi or 0.0)):
            raise SpoolError("non-finite link statistics, not stored")
        with self._write() as db:
            self._require_session(session_id)
            cursor = db.execute(
                "INSERT INTO link (session_id, side, t, battery, rssi, lost, reconnects)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, side.value, t, battery, rssi, lost, reconnects),
            )
        self._bound()
        assert cursor.lastrowid is not None  # always set after an INSERT
        return cursor.lastrowid

    # -- delivery (pipeline/store/outbox.py) ----------------------------------------

    def pending(self, stream: Stream, limit: int) -> list[Outgoing]:
        """Up to `limit` undelivered rows of `stream` in id order, as line-protocol points."""
        return outbox.pending(self._db, stream, limit)

    def acknowledge(self, rows: Sequence[Outgoing]) -> None:
        """The server took `rows`, consecutive pending rows of one stream; committed on return."""
        with self._write() as db:
            outbox.acknowledge(db, rows)
            outbox.set_meta(db, {"last_delivery_at": repr(time.time())})

    def quarantine(self, item: Outgoing, message: str) -> None:
        """The server refused `item` for good: keep it aside with `message`, move on."""
        with self._write() as db:
            outbox.quarantine(db, item, message, time.time())

    def quarantined(self) -> list[tuple[Outgoing, str]]:
        """Rows the server refused, oldest first, with the server's message."""
        rows = self._db.execute(
            "SELECT stream, row_id, line, message FROM quarantine ORDER BY id"
        ).fetchall()
        return [(Outgoing(Stream(s), i, line), msg) for s, i, line, msg in rows]

    def note_delivery_error(self, message: str | None) -> None:
        """Remember the last delivery problem for `mirrorwatch status` (None clears it)."""
        now = None if message is None else repr(time.time())
        with self._write() as db:
            outbox.set_meta(db, {"last_error": message, "last_error_at": now})

    def delivery_status(self) -> DeliveryStatus:
        """Pending and dropped rows per stream, oldest pending time, last error."""
        return outbox.status(self._db)

    def _bound(self) -> None:
        if self.max_bytes is not None and outbox.used_bytes(self._db) > self.max_bytes:
            with self._write() as db:
                lost = outbox.enforce_bound(db, self.max_bytes)
            for stream, n in lost.items():
                self._untold[stream] = self._untold.get(stream, 0) + n
        with contextlib.suppress(SpoolFull):  # what was stored is stored; the next write says
            self.guard.make_room()
        now = time.monotonic()
        if (self._untold or self.guard.untold) and now - self._told_at >= DROP_WARNING_S:
            # a full spool prunes a little on every commit: one line a minute, not four a second
            if self._untold:
                dropped = ", ".join(f"{n} {s.value}" for s, n in self._untold.items())
                log.warning(
                    "spool over its size bound (%d bytes): dropped %s rows not yet delivered",
                    self.max_bytes,
                    dropped,
                )
            self.guard.tell()
            self._untold, self._told_at = {}, now

    def temporary_tables(self, statements: Sequence[str]) -> None:
        """Create tables a read-only spool lacks as empty TEMP tables (this connection only)."""
        self._db.execute("PRAGMA query_only = OFF")  # main stays read-only: opened so
        try:
            for sql in statements:
                self._db.execute(sql.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
        finally:
            self._db.execute("PRAGMA query_only = ON")

    # -- tables kept beside the spool's own (pipeline/store/aggregates.py) ---------

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction on the spool's connection, committed and synced at its end."""
        return self._write()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of a read-only query on the spool's connection."""
        return self._db.execute(sql, params).fetchall()

    # -- housekeeping ----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Rows per kind: {"sessions": n, "events": n, "samples": n}."""
        return {
            table: int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("sessions", "events", "samples")
        }

    def close(self) -> None:
        """Close the connection; every stored row is already committed."""
        self._db.close()
        if self._copy is not None:
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
