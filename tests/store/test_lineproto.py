"""Line protocol of DESIGN.md §5, written out in full."""

from __future__ import annotations

from pipeline.store import lineproto

T0 = 1_795_600_000.25  # a session start with a fractional second


def test_a_movement_event_with_every_field() -> None:
    d = {
        "type": "movement",
        "t_onset": 12.34,
        "t_offset": 13.1,
        "active": "R",
        "kind": "mirror",
        "mirror_ratio": 0.18,
        "lag_ms": 42.0,
        "coupling": 0.81,
        "grade": 2,
        "peak_active": 2.1,
        "peak_contra": 0.378,
        "completeness": {"L": 1.0, "R": 0.975},
        "detected_at": 12.41,
        "decided_at": 13.2,
        "task": "finger tap, left=1",
    }
    assert lineproto.movement("P01", "20261126-105342-a1b2", T0, d) == (
        "movement,subject=P01,session=20261126-105342-a1b2,active=R,kind=mirror,"
        "task=finger\\ tap\\,\\ left\\=1 "
        "t_onset=12.34,t_offset=13.1,mirror_ratio=0.18,lag_ms=42.0,coupling=0.81,grade=2i,"
        "peak_active=2.1,peak_contra=0.378,completeness_L=1.0,completeness_R=0.975,"
        "detected_at=12.41,decided_at=13.2 "
        "1795600012590000000"
    )


def test_absent_numbers_are_left_out_not_invented() -> None:
    d = {
        "t_onset": 1.0,
        "t_offset": None,
        "active": "L",
        "kind": "unimanual",
        "mirror_ratio": 0.0,
        "lag_ms": None,
        "coupling": 0.0,
        "grade": 0,
        "peak_active": 1.5,
        "peak_contra": 0.0,
        "completeness": {"L": 1.0, "R": 1.0},
        "detected_at": 1.05,
        "decided_at": 1.9,
        "task": None,
    }
    line = lineproto.movement("P01", "s", T0, d)
    assert "t_offset" not in line
    assert "lag_ms" not in line
    assert "task" not in line


def test_imu_and_link_points() -> None:
    assert lineproto.imu("P 1", "s", T0, "L", 0.01, (0.5, 9.81, -1e-05), (None, None, None)) == (
        "imu,subject=P\\ 1,session=s,side=L ax=0.5,ay=9.81,az=-1e-05 1795600000260000000"
    )
    assert lineproto.imu("P1", "s", T0, "R", 0.0, (1.0, 2.0, 3.0), (0.1, 0.2, 0.3)).endswith(
        "ax=1.0,ay=2.0,az=3.0,gx=0.1,gy=0.2,gz=0.3 1795600000250000000"
    )
    assert lineproto.link("P1", "s", T0, "L", 60.0, 87.5, None, 3, 0) == (
        "link,subject=P1,session=s,side=L lost=3i,reconnects=0i,battery=87.5 1795600060250000000"
    )


def test_timestamps_are_deterministic_to_the_nanosecond() -> None:
    # the same stored values always give the same point, so a re-send overwrites itself
    assert lineproto.wall_ns(T0, 0.001) == 1_795_600_000_251_000_000
    assert lineproto.wall_ns(T0, 86_399.999999999) == 1_795_686_400_249_999_999
    assert lineproto.wall_ns(1_795_600_000.1234567, 0.0) == 1_795_600_000_123_457_000


def test_a_newline_in_a_tag_cannot_break_the_line() -> None:
    assert "\n" not in lineproto.tag("two\nlines")


def test_the_batch_formatter_gives_the_same_points_as_the_reference() -> None:
    rows = [
        ("L", 0.0, 0.5, 9.81, -1e-05, 0.125, -0.25, 3.0),
        ("R", 0.00999, 1.0, 2.0, 3.0, None, None, None),
        ("L", 86_399.99, -0.1, 0.2, 0.30000000000000004, 1e-300, 0.0, -0.0),
    ]
    expected = [
        lineproto.imu("P 1", "s,x", T0, side, t, (ax, ay, az), (gx, gy, gz))
        for side, t, ax, ay, az, gx, gy, gz in rows
    ]
    assert lineproto.imu_many("P 1", "s,x", T0, rows) == expected


def _verdict(**changes: object) -> dict[str, object]:
    d: dict[str, object] = {
        "task_hand": "L",
        "mirror_hand": "R",
        "state": "outside limits",
        "movements": 12,
        "mirror": 5,
        "mirror_share": 0.417,
        "median_ratio": 0.38,
        "worst_grade": 3,
        "limits": {"mirror_share": 0.3, "median_ratio": 0.15, "worst_grade": 2.0},
        "exceeded": ["mirror_share", "median_ratio", "worst_grade"],
        "reasons": [],
        "tasks_done": 2,
        "tasks_planned": 2,
    }
    return d | changes


def test_a_verdict_names_both_hands_and_its_state_as_tags() -> None:
    assert lineproto.verdict("P01", "s1", T0, 95.5, _verdict()) == (
        "verdict,subject=P01,session=s1,task_hand=L,mirror_hand=R,state=outside\\ limits "
        "movements=12i,mirror=5i,mirror_share=0.417,median_ratio=0.38,worst_grade=3i,"
        "limit_mirror_share=0.3,limit_median_ratio=0.15,limit_worst_grade=2i,"
        "tasks_done=2i,tasks_planned=2i "
        "1795600095750000000"
    )


def test_a_verdict_without_numbers_keeps_its_state_and_limits() -> None:
    d = _verdict(
        state="not assessed", movements=0, mirror=0, mirror_share=None, median_ratio=None,
        worst_grade=None, tasks_done=0, tasks_planned=0,
    )  # fmt: skip
    line = lineproto.verdict("P01", "s1", T0, 10.0, d)
    assert "state=not\\ assessed " in line
    assert "mirror_share=" not in line.replace("limit_mirror_share", "")
    assert "median_ratio=" not in line.replace("limit_median_ratio", "")
    assert "worst_grade=" not in line.replace("limit_worst_grade", "")
    fields = line.split(" ")[-2]  # the tags' escaped spaces come before it
    assert {f.split("=")[0] for f in fields.split(",")} <= set(lineproto.MEASUREMENTS["verdict"][1])
