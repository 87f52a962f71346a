"""InfluxDB line protocol for spool rows: the schema of DESIGN.md §5.

Pure functions, no client library: the spool formats rows with them and the
dashboard test checks its queries against the names declared here.

Tags and timestamps depend only on stored values, so a re-sent row produces the
identical point and overwrites itself. Strings are tags only (some servers, for
example VictoriaMetrics, keep numeric fields alone); numbers are fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MEASUREMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # measurement: (tags, fields)
    "movement": (
        ("subject", "session", "active", "kind", "task"),
        (
            "t_onset",
            "t_offset",
            "mirror_ratio",
            "lag_ms",
            "coupling",
            "grade",
            "peak_active",
            "peak_contra",
            "completeness_L",
            "completeness_R",
            "detected_at",
            "decided_at",
        ),
    ),
    "verdict": (
        ("subject", "session", "task_hand", "mirror_hand", "state"),
        (
            "movements",
            "mirror",
            "mirror_share",
            "median_ratio",
            "worst_grade",
            "limit_mirror_share",
            "limit_median_ratio",
            "limit_worst_grade",
            "tasks_done",
            "tasks_planned",
        ),
    ),
    "imu": (("subject", "session", "side"), ("ax", "ay", "az", "gx", "gy", "gz")),
    "link": (("subject", "session", "side"), ("battery", "rssi", "lost", "reconnects")),
}

_TAG_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\ "})


def tag(value: str) -> str:
    """A tag value escaped for line protocol (a newline cannot be escaped: it becomes a space)."""
    return value.translate(_TAG_ESCAPES)


def wall_ns(started_at: float, t: float) -> int:
    """Unix nanoseconds of session time `t` (s) in a session started at `started_at` (unix s).

    The start is rounded to the microsecond first so the sum keeps nanosecond
    resolution for `t`; the same stored values always give the same timestamp.
    """
    return round(started_at * 1e6) * 1000 + round(t * 1e9)


def movement(subject: str, session: str, started_at: float, d: dict[str, Any]) -> str:
    """A movement event (its JSON dict, DESIGN.md §4) as one point; timestamp = onset."""
    tags = f"subject={tag(subject)},session={tag(session)},active={d['active']},kind={d['kind']}"
    if d.get("task"):
        tags += f",task={tag(d['task'])}"
    fields = [f"t_onset={float(d['t_onset'])!r}"]
    if d["t_offset"] is not None:
        fields.append(f"t_offset={float(d['t_offset'])!r}")
    fields.append(f"mirror_ratio={float(d['mirror_ratio'])!r}")
    if d["lag_ms"] is not None:
        fields.append(f"lag_ms={float(d['lag_ms'])!r}")
    fields += [
        f"coupling={float(d['coupling'])!r}",
        f"grade={int(d['grade'])}i",
        f"peak_active={float(d['peak_active'])!r}",
        f"peak_contra={float(d['peak_contra'])!r}",
        f"completeness_L={float(d['completeness']['L'])!r}",
        f"completeness_R={float(d['completeness']['R'])!r}",
        f"detected_at={float(d['detected_at'])!r}",
        f"decided_at={float(d['decided_at'])!r}",
    ]
    return f"movement,{tags} {','.join(fields)} {wall_ns(started_at, float(d['t_onset']))}"


def verdict(subject: str, session: str, started_at: float, t: float, d: dict[str, Any]) -> str:
    """One hand's assessment verdict (its `assess --json` dict) as a point at session time
    `t`, when it was reached. The state and both hands are tags, so a dashboard can select
    "outside limits"; a number the verdict lacks (no mirror event: no median ratio) is
    left out rather than made up."""
    tags = (
        f"subject={tag(subject)},session={tag(session)},task_hand={d['task_hand']},"
        f"mirror_hand={d['mirror_hand']},state={tag(d['state'])}"
    )
    fields = [f"movements={int(d['movements'])}i", f"mirror={int(d['mirror'])}i"]
    for key in ("mirror_share", "median_ratio"):
        if d[key] is not None:
            fields.append(f"{key}={float(d[key])!r}")
    if d["worst_grade"] is not None:
        fields.append(f"worst_grade={int(d['worst_grade'])}i")
    limits = d["limits"]
    fields += [
        f"limit_mirror_share={float(limits['mirror_share'])!r}",
        f"limit_median_ratio={float(limits['median_ratio'])!r}",
        f"limit_worst_grade={int(limits['worst_grade'])}i",
        f"tasks_done={int(d['tasks_done'])}i",
        f"tasks_planned={int(d['tasks_planned'])}i",
    ]
    return f"verdict,{tags} {','.join(fields)} {wall_ns(started_at, t)}"


def imu(
    subject: str,
    session: str,
    started_at: float,
    side: str,
    t: float,
    acc: tuple[float, float, float],
    gyr: tuple[float, float, float] | tuple[None, None, None],
) -> str:
    """One raw sample as a point (gyro fields only when the sensor has a gyro)."""
    ax, ay, az = acc
    fields = f"ax={ax!r},ay={ay!r},az={az!r}"
    gx, gy, gz = gyr
    if gx is not None:
        fields += f",gx={gx!r},gy={gy!r},gz={gz!r}"
    return (
        f"imu,subject={tag(subject)},session={tag(session)},side={side} {fields} "
        f"{wall_ns(started_at, t)}"
    )


def imu_many(
    subject: str,
    session: str,
    started_at: float,
    rows: Iterable[Sequence[Any]],
) -> list[str]:
    """`imu()` for many samples of one session: rows of (side, t, ax, ay, az, gx, gy, gz).

    The same points as `imu()` row by row (tested); the tags and the session's
    start are formatted once, which roughly halves the cost of a drain.
    """
    base = round(started_at * 1e6) * 1000
    head = f"imu,subject={tag(subject)},session={tag(session)},side="
    prefix = {"L": head + "L ", "R": head + "R "}
    out = []
    for side, t, ax, ay, az, gx, gy, gz in rows:
        ns = base + round(t * 1e9)
        if gx is None:
            out.append(f"{prefix[side]}ax={ax!r},ay={ay!r},az={az!r} {ns}")
        else:
            out.append(
                f"{prefix[side]}ax={ax!r},ay={ay!r},az={az!r},gx={gx!r},gy={gy!r},gz={gz!r} {ns}"
            )
    return out


def link(
    subject: str,
    session: str,
    started_at: float,
    side: str,
    t: float,
    battery: float | None,
    rssi: float | None,
    lost: int,
    reconnects: int,
) -> str:
    """Link health of one wrist at session time `t` as a point."""
    fields = [f"lost={lost}i", f"reconnects={reconnects}i"]
    if battery is not None:
        fields.append(f"battery={float(battery)!r}")
    if rssi is not None:
        fields.append(f"rssi={float(rssi)!r}")
    return (
        f"link,subject={tag(subject)},session={tag(session)},side={side} {','.join(fields)} "
        f"{wall_ns(started_at, t)}"
    )
