"""Scoring detected events against a simulator's truth, bouts of activity apart."""

from __future__ import annotations

import pytest
from factories import movement_event

from pipeline.engine.events import Kind
from pipeline.evaluation import score
from sensors.scenarios import Interval, TruthMovement
from sensors.types import Side


def test_events_in_a_bout_are_neither_found_movements_nor_false_ones() -> None:
    truth = [TruthMovement(10.0, 10.6, Side.L, "unimanual", 0.0, 0.0, 1.0, None)]
    bout = Interval(60.0, 180.0, "eating")
    events = [
        movement_event(10.05),  # the true movement
        movement_event(30.0),  # a false one, in rest
        movement_event(59.6),  # the bout's first movement, backdated a little
        movement_event(100.0, Kind.MIRROR),
        movement_event(180.8),  # decided just after the bout
        movement_event(182.0),  # false again: the bout is over
    ]
    s = score(truth, events, 600.0, bouts=[bout])
    assert s.recall == 1.0
    assert [e.t_onset for e in s.false] == [30.0, 182.0]
    assert [e.t_onset for e in s.in_bouts] == [59.6, 100.0, 180.8]
    assert s.bout_mirrors() == 1
    assert s.bout_minutes == pytest.approx(2.0)
    assert s.bout_events_per_min == pytest.approx(1.5)
    assert s.false_per_min == pytest.approx(2 / 8.0)  # over the 8 minutes outside it


def test_without_bouts_every_unmatched_event_is_false() -> None:
    s = score([], [movement_event(5.0), movement_event(70.0)], 120.0)
    assert len(s.false) == 2
    assert s.in_bouts == []
    assert s.false_per_min == pytest.approx(1.0)
    assert s.bout_events_per_min == 0.0
