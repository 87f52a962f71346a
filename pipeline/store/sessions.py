"""Sessions in the spool: reading them back, and closing those whose process died.

Functions here run on the spool's connection, `close_dead` inside the caller's
transaction; `Spool` exposes them as `sessions`, `session` and `close_interrupted`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.store import owner

STALE_AFTER_S = 30.0
"""A session that never ended and noted no progress for this long (wall s) is dead,
whichever machine ran it: running sessions note progress several times a second."""

_COLUMNS = """
    SELECT s.id, s.subject, s.source, s.mode, s.started_at, s.ended_at, s.meta,
           (SELECT count(*) FROM events e WHERE e.session_id = s.id),
           s.progress_t, s.lost_samples, s.end_reason
    FROM sessions s"""
_NEWEST_FIRST = "ORDER BY s.started_at DESC, s.id DESC"


class SessionError(LookupError):
    """A session reference that names no single session."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One stored session.

    `id` is the UTC wall-clock start plus 4 random hex digits, e.g.
    "20261126-105342-a1b2", so ids sort by start whatever the local time zone.
    `started_at`/`ended_at` are unix seconds; `events` counts stored events.
    `progress_t` s of session time committed so far, `lost_samples` raw samples
    not stored because the store fell behind, `end_reason` how it ended
    ("interrupted": the process died and a later start closed it).
    """

    id: str
    subject: str
    source: str
    mode: str
    started_at: float
    ended_at: float | None
    meta: dict[str, str]
    events: int
    progress_t: float | None = None
    lost_samples: int = 0
    end_reason: str | None = None


def newest_first(db: sqlite3.Connection) -> list[SessionInfo]:
    """All sessions, newest first."""
    return [_session_info(r) for r in db.execute(f"{_COLUMNS} {_NEWEST_FIRST}").fetchall()]


def find(db: sqlite3.Connection, ref: str) -> SessionInfo:
    """The session named by `ref`: an id, a unique id prefix, or "latest"."""
    if ref == "latest":
        row = db.execute(f"{_COLUMNS} {_NEWEST_FIRST} LIMIT 1").fetchone()
        if row is None:
            raise SessionError("no session 'latest': the spool has no sessions")
        return _session_info(row)
    if not ref:
        raise SessionError("empty session reference")
    rows = db.execute(
        f"{_COLUMNS} WHERE substr(s.id, 1, ?) = ? ORDER BY s.id LIMIT 6",
        (len(ref), ref),
    ).fetchall()
    exact = [r for r in rows if r[0] == ref]
    if exact or len(rows) == 1:
        return _session_info((exact or rows)[0])
    if not rows:
        raise SessionError(f"no session matches {ref!r}")
    candidates = ", ".join(r[0] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    raise SessionError(f"session {ref!r} is ambiguous: {candidates}")


def close_dead(db: sqlite3.Connection, now: float) -> list[str]:
    """End the sessions whose process died (inside the caller's transaction); their ids.

    A session that noted progress but never ended is dead when its process is
    gone (same machine, same boot) or its last progress is STALE_AFTER_S old.
    It ends at its last progress, reason "interrupted". Sessions that never note
    progress are left as they are.
    """
    rows = db.execute(
        "SELECT id, progress_at, owner FROM sessions"
        " WHERE ended_at IS NULL AND progress_at IS NOT NULL"
    ).fetchall()
    dead = [sid for sid, at, by in rows if at < now - STALE_AFTER_S or owner.gone(by)]
    for sid in dead:
        db.execute(
            "UPDATE sessions SET ended_at = progress_at, end_reason = 'interrupted' WHERE id = ?",
            (sid,),
        )
    return dead


def _session_info(row: Sequence[Any]) -> SessionInfo:
    sid, subject, source, mode, started_at, ended_at, meta, n_events, *progress = row
    progress_t, lost_samples, end_reason = progress
    return SessionInfo(
        id=sid,
        subject=subject,
        source=source,
        mode=mode,
        started_at=started_at,
        ended_at=ended_at,
        meta=json.loads(meta),
        events=n_events,
        progress_t=progress_t,
        lost_samples=lost_samples,
        end_reason=end_reason,
    )
