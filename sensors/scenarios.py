"""Scenario plans for the simulated wrists: what each hand does when, and the ground truth.

Sensor frame of either wrist: x along the forearm towards the fingers, z out of the back
of the wrist, y = z cross x. Vectors in the movement catalogue are written for the right
wrist; the left wrist gets their reflection through the body's sagittal plane. With both
sensors worn the same way, that reflection flips y for polar vectors (lever arms,
acceleration) and x and z for axial ones (rotation axes, angular velocity).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sensors.types import FloatArray, Side

Vec3 = tuple[float, float, float]

SCENARIOS: tuple[str, ...] = ("firearm-drill", "home-day", "healthy", "mirror-strong")
DEFAULT_DURATION: dict[str, float] = {
    "firearm-drill": 420.0,
    "home-day": 8 * 3600.0,
    "healthy": 600.0,
    "mirror-strong": 600.0,
}
FIREARM_TASKS: tuple[str, ...] = (
    "trigger-R",
    "trigger-L",
    "grip-R",
    "grip-L",
    "wrist-flex-R",
    "wrist-flex-L",
    "tapping-R",
    "tapping-L",
    "pronation-R",
    "pronation-L",
    "bimanual",
)


@dataclass(frozen=True, slots=True)
class TruthMovement:
    """One voluntary movement, as the detector should report it.

    `onset`/`offset` s, where the active hand's angular velocity leaves and returns to 0;
    `side` the active hand (bimanual: the one starting first); `kind` "unimanual",
    "mirror" or "bimanual"; `ratio` contralateral / active peak angular speed (0 for
    unimanual); `lag` s, contralateral onset minus active onset (0 for unimanual); `peak`
    rad/s, the active hand's peak angular speed; `task` the scripted task, if any.
    """

    onset: float
    offset: float
    side: Side
    kind: str
    ratio: float
    lag: float
    peak: float
    task: str | None


@dataclass(frozen=True, slots=True)
class Interval:
    """A labelled span of session time, s."""

    start: float
    end: float
    label: str


@dataclass(frozen=True, slots=True)
class Stroke:
    """One wrist's rotation about a fixed axis: `lobes` min-jerk lobes of alternating sign.

    `start` s; `lobe` s per lobe; `peak` rad/s, signed, of the first lobe; `axis` (unit)
    and `lever` (m, rotation centre -> sensor) in that wrist's sensor frame.
    """

    side: Side
    start: float
    lobe: float
    lobes: int
    peak: float
    axis: Vec3
    lever: Vec3

    @property
    def end(self) -> float:
        return self.start + self.lobe * self.lobes


@dataclass(frozen=True, slots=True)
class Walk:
    """Walking bout: arm swing at `freq` Hz and `peak` rad/s about `axis` (right wrist).

    Heel strikes (`heel` m/s^2 transients) and the body's bounce (`bounce` m/s^2) come at
    twice the swing rate, along the vertical, on both wrists.
    """

    start: float
    end: float
    freq: float
    peak: float
    heel: float
    bounce: float
    axis: Vec3


@dataclass(frozen=True, slots=True)
class Vibration:
    """Vehicle-like vibration reaching both wrists: `acc` m/s^2 rms, `gyr` rad/s rms."""

    start: float
    end: float
    acc: float
    gyr: float


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a scenario decided, before any sample is rendered."""

    duration: float
    truth: tuple[TruthMovement, ...]
    strokes: tuple[Stroke, ...]
    walks: tuple[Walk, ...]
    vibrations: tuple[Vibration, ...]
    bouts: tuple[Interval, ...]  # continuous activity (eating, typing...): no truth inside

    @property
    def common_mode(self) -> list[Interval]:
        spans = [Interval(w.start, w.end, "walking") for w in self.walks]
        spans += [Interval(v.start, v.end, "vibration") for v in self.vibrations]
        return sorted(spans, key=lambda i: i.start)


def reflect_axial(v: Vec3) -> Vec3:
    return (-v[0], v[1], -v[2])


def reflect_polar(v: Vec3) -> Vec3:
    return (v[0], -v[1], v[2])


@dataclass(frozen=True, slots=True)
class _Motion:
    """A movement family: nominal axis and lever (right wrist), ranges to draw from.

    `peak` rad/s, `lobe` s per lobe; `lobes` the possible lobe counts (even: the hand
    returns to where it started); `signed`: either direction is as likely.
    """

    axis: Vec3
    lever: Vec3
    peak: tuple[float, float]
    lobe: tuple[float, float]
    lobes: tuple[int, ...]
    signed: bool


# Peak angular speeds start at 0.5 rad/s: movements between two pauses of the hand in
# the PADS task recordings (subjects 102-230) peak at 0.4 rad/s in the 5th percentile,
# 0.55 in the 10th and 5 at the median; smaller ones are what a resting wrist's fidgets
# reach (benchmarks/real_stats.py).
_MOTIONS: dict[str, _Motion] = {
    "trigger": _Motion((0.0, 1.0, 0.3), (0.05, 0.0, 0.0), (0.5, 1.2), (0.15, 0.3), (2,), False),
    "grip": _Motion((0.3, 1.0, 0.0), (0.06, 0.0, 0.0), (0.5, 1.5), (0.25, 0.5), (2,), False),
    "wrist-flex": _Motion((0.0, 1.0, 0.0), (0.08, 0.0, 0.0), (1.5, 4.0), (0.3, 0.6), (2,), True),
    "tapping": _Motion(
        (0.0, 1.0, 0.2), (0.07, 0.0, 0.0), (0.6, 1.5), (0.1, 0.14), (6, 8, 10), False
    ),
    "pronation": _Motion((1.0, 0.0, 0.0), (0.0, 0.0, 0.03), (1.5, 4.0), (0.3, 0.6), (2,), True),
    # elbow-driven; one lobe: the hand stays where it went
    "reach": _Motion((0.3, 0.5, 1.0), (0.3, 0.0, 0.0), (0.5, 2.0), (0.4, 0.75), (1, 2), True),
    # thumb to each fingertip in turn: a slower, smaller sequence than tapping
    "opposition": _Motion(
        (0.2, 1.0, 0.3), (0.06, 0.0, 0.0), (0.5, 1.2), (0.18, 0.3), (4, 6, 8), False
    ),
}
MOTIONS: tuple[str, ...] = tuple(_MOTIONS)
"""Movement families a scripted task can ask the simulated wrists to perform."""
_GENERIC = ("wrist-flex", "pronation", "grip", "trigger", "tapping", "reach")
_GENERIC_P = (0.25, 0.2, 0.2, 0.1, 0.1, 0.15)
_LAG = (0.02, 0.15)  # s, contralateral delay of mirror activity
# Continuous activities of a day at home: the motions each busy hand draws from, the
# pause between two of them (s), and how many hands are busy. Most daily activity
# is two-handed.
_BOUTS: dict[str, tuple[tuple[str, ...], tuple[float, float], int]] = {
    "eating": (("reach", "pronation", "grip", "wrist-flex"), (0.05, 0.8), 2),
    "typing": (("tapping", "trigger", "wrist-flex"), (0.0, 0.4), 2),
    "dressing": (("reach", "pronation", "wrist-flex", "grip"), (0.0, 0.5), 2),
    "writing": (("trigger", "wrist-flex", "opposition"), (0.0, 0.3), 1),
}
BOUT_ACTIVITIES: tuple[str, ...] = tuple(_BOUTS)
# From forearm on a table, palm down, to arm hanging, palm to the thigh: 120 degrees about
# this axis (right wrist). The rotation of one min-jerk lobe is peak * lobe * 8/15.
_HANG_AXIS = (1 / math.sqrt(3), 1 / math.sqrt(3), -1 / math.sqrt(3))
_HANG_ANGLE = 2 * math.pi / 3
_END_MARGIN = 1.0  # s kept free at the session end so every movement is complete


class _Builder:
    """Accumulates a plan; one seeded generator draws everything, in a fixed order."""

    def __init__(self, rng: np.random.Generator, duration: float) -> None:
        self.rng = rng
        self.duration = duration
        self.truth: list[TruthMovement] = []
        self.strokes: list[Stroke] = []
        self.walks: list[Walk] = []
        self.vibrations: list[Vibration] = []
        self.bouts: list[Interval] = []

    def u(self, bounds: tuple[float, float]) -> float:
        return float(self.rng.uniform(*bounds))

    def stroke(self, motion: str, side: Side, start: float) -> Stroke:
        m = _MOTIONS[motion]
        sign = float(self.rng.choice([-1.0, 1.0])) if m.signed else 1.0
        s = Stroke(
            side=Side.R,
            start=start,
            lobe=self.u(m.lobe),
            lobes=int(self.rng.choice(m.lobes)),
            peak=sign * self.u(m.peak),
            axis=_unit(np.asarray(m.axis) + self.rng.normal(0.0, 0.15, 3)),
            lever=m.lever,
        )
        return s if side is Side.R else mirrored(s, start, 1.0, 1.0)

    def movement(
        self,
        start: float,
        side: Side,
        motion: str,
        kind: str,
        *,
        until: float,
        ratio: tuple[float, float] = (0.0, 0.0),
        task: str | None = None,
    ) -> float | None:
        """Add one movement starting at `start` s; its end, or None if it ends after `until`."""
        active = self.stroke(motion, side, start)
        r = lag = 0.0
        if kind == "unimanual":
            pair = [active]
        elif kind == "mirror":
            r, lag = self.u(ratio), self.u(_LAG)
            # a single movement's copy is smoothed (longer); a rhythmic one stays phase-locked
            stretch = self.u((1.1, 1.25)) if active.lobes <= 2 else 1.0
            pair = [active, mirrored(active, start + lag, r, stretch)]
        elif kind == "bimanual":
            # `side` leads by up to 60 ms; the other hand moves about as strongly
            r, lag = self.u((0.7, 1.3)), self.u((0.0, 0.06))
            other = replace(
                self.stroke(motion, side.other, start + lag),
                lobe=active.lobe * self.u((0.9, 1.1)),
                lobes=active.lobes,
                peak=math.copysign(abs(active.peak) * r, active.peak),
            )
            pair = [active, other]
        else:
            raise ValueError(f"unknown movement kind {kind!r}")
        end = max(s.end for s in pair)
        if end > min(until, self.duration - _END_MARGIN):
            return None
        self.strokes += pair
        self.truth.append(
            TruthMovement(start, active.end, side, kind, r, lag, abs(active.peak), task)
        )
        return end

    def free(
        self,
        start: float,
        until: float,
        kinds: Sequence[tuple[str, float]],
        gap: tuple[float, float],
        ratio: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        """Unscripted movements, each after `gap` s of rest, until `until` s."""
        names, weights = zip(*kinds, strict=True)
        t = start
        while True:
            onset = t + self.u(gap)
            side = Side.L if self.rng.random() < 0.5 else Side.R
            motion = str(self.rng.choice(_GENERIC, p=_GENERIC_P))
            kind = str(self.rng.choice(names, p=weights))
            end = self.movement(onset, side, motion, kind, until=until, ratio=ratio)
            if end is None:
                return
            t = end

    def bout(self, start: float, end: float, activity: str) -> None:
        """Continuous activity from `start` to `end` s: each hand busy (`_BOUTS`) moves
        on its own, one movement after another with pauses shorter than a rest's."""
        motions, pause, hands = _BOUTS[activity]
        busy = Side if hands == 2 else [Side.R if self.rng.random() < 0.5 else Side.L]
        for side in busy:
            t = start + self.u(pause)
            while True:
                s = self.stroke(str(self.rng.choice(motions)), side, t)
                if s.end > end:
                    break
                self.strokes.append(s)
                t = s.end + self.u(pause)
        self.bouts.append(Interval(start, end, activity))

    def posture(self, start: float, end: float) -> None:
        """Both arms drop to hang at `start` s and come back up to end at `end` s."""
        for side in Side:
            for sign in (1.0, -1.0):
                lobe = self.u((0.9, 1.3))
                at = start + self.u((0.0, 0.1)) if sign > 0 else end - lobe - self.u((0.0, 0.1))
                peak = sign * _HANG_ANGLE / (lobe * 8 / 15)
                s = Stroke(Side.R, at, lobe, 1, peak, _HANG_AXIS, (0.3, 0.0, 0.0))
                self.strokes.append(s if side is Side.R else mirrored(s, at, 1.0, 1.0))

    def build(self) -> Plan:
        return Plan(
            duration=self.duration,
            truth=tuple(sorted(self.truth, key=lambda m: m.onset)),
            strokes=tuple(sorted(self.strokes, key=lambda s: s.start)),
            walks=tuple(self.walks),
            vibrations=tuple(self.vibrations),
            bouts=tuple(self.bouts),
        )


def _unit(v: FloatArray) -> Vec3:
    x, y, z = (float(c) for c in v / np.linalg.norm(v))
    return (x, y, z)


def mirrored(s: Stroke, start: float, ratio: float, stretch: float) -> Stroke:
    """`s` copied onto the other wrist, scaled by `ratio`, lobes lengthened by `stretch`."""
    return Stroke(
        side=s.side.other,
        start=start,
        lobe=s.lobe * stretch,
        lobes=s.lobes,
        peak=s.peak * ratio,
        axis=reflect_axial(s.axis),
        lever=reflect_polar(s.lever),
    )


def _healthy(b: _Builder) -> None:
    b.free(10.0, b.duration, [("unimanual", 0.8), ("bimanual", 0.2)], (2.5, 7.0))


def _mirror_strong(b: _Builder) -> None:
    kinds = [("mirror", 0.75), ("unimanual", 0.15), ("bimanual", 0.1)]
    b.free(10.0, b.duration, kinds, (2.5, 7.0), ratio=(0.3, 0.9))


def _firearm_drill(b: _Builder) -> None:
    t = 30.0  # the "rest" task: a still baseline, no voluntary movement
    for task in FIREARM_TASKS:
        motion, _, hand = task.rpartition("-")
        for rep in range(6):
            onset = t + 3.0 + 3.5 * rep + b.u((0.2, 0.5))  # cue + reaction time
            if task == "bimanual":
                lead = Side.L if b.rng.random() < 0.5 else Side.R
                b.movement(onset, lead, "grip", "bimanual", until=b.duration, task=task)
            else:
                kind = "mirror" if b.rng.random() < 0.5 else "unimanual"
                b.movement(
                    onset, Side(hand), motion, kind, until=b.duration, ratio=(0.05, 0.6), task=task
                )
        t += 3.0 + 3.5 * 6 + b.u((8.0, 12.0))


def _home_day(b: _Builder) -> None:
    kinds = [("unimanual", 0.5), ("mirror", 0.3), ("bimanual", 0.2)]
    t = 60.0
    next_walk = b.u((5.0, 15.0)) * 60.0
    while t < b.duration:
        if t >= next_walk:
            if b.duration - t < 60.0:
                break
            end = min(t + b.u((60.0, 300.0)), b.duration)
            # hanging arm, back of the hand outwards: the swing axis is about z
            axis = _unit(np.array([0.0, 0.0, 1.0]) + b.rng.normal(0.0, 0.15, 3))
            swing, peak = b.u((0.8, 1.0)), b.u((1.0, 2.5))
            b.walks.append(Walk(t, end, swing, peak, b.u((1.5, 4.0)), b.u((0.5, 1.5)), axis))
            b.posture(t, end)
            t = end + b.u((10.0, 60.0))
            next_walk = t + b.u((20.0, 40.0)) * 60.0
            continue
        r = b.rng.random()
        if r < 0.04 and next_walk - t > 300.0:  # a ride: sitting still, shaken
            end = min(t + b.u((300.0, 900.0)), next_walk, b.duration)
            b.vibrations.append(Vibration(t, end, b.u((0.2, 0.6)), b.u((0.01, 0.04))))
            t = end + b.u((10.0, 60.0))
        elif r < 0.4:
            t = min(t + b.u((120.0, 1200.0)), next_walk)
        elif r < 0.7 and min(next_walk, b.duration) - t > 240.0:  # eating, typing...
            start = t + b.u((10.0, 60.0))
            end = min(start + b.u((120.0, 720.0)), next_walk - 30.0, b.duration - 30.0)
            b.bout(start, end, str(b.rng.choice(BOUT_ACTIVITIES, p=(0.3, 0.3, 0.2, 0.2))))
            t = end + b.u((10.0, 60.0))
        else:
            burst_end = min(t + b.u((60.0, 360.0)), next_walk)
            b.free(t, burst_end, kinds, (3.0, 25.0), ratio=(0.05, 0.5))
            t = burst_end


_SCHEDULES = {
    "firearm-drill": _firearm_drill,
    "home-day": _home_day,
    "healthy": _healthy,
    "mirror-strong": _mirror_strong,
}


@dataclass(frozen=True, slots=True)
class ScriptedTask:
    """One task of an assessment protocol, placed on the session clock.

    `motion` one of MOTIONS (None: rest, nobody moves); `active` the hand asked to move
    (None with a motion: both hands together); one movement follows each `cues` beat, s.
    """

    name: str
    motion: str | None
    active: Side | None
    cues: tuple[float, ...]


def plan_protocol(
    tasks: Sequence[ScriptedTask],
    duration: float,
    seed: int,
    *,
    mirror_share: float = 0.5,
    ratio: tuple[float, float] = (0.05, 0.6),
) -> Plan:
    """A subject performing `tasks`: one movement after each cue, after a reaction time.

    A unimanual movement comes with mirror activity of the other hand with probability
    `mirror_share`, of a ratio drawn from `ratio`; a both-hands task gives bimanual
    movements. Every movement carries its task's name in the truth.
    """
    b = _Builder(np.random.default_rng([seed, 0, 0, 1]), duration)
    for task in tasks:
        if task.motion is None:
            continue
        if task.motion not in _MOTIONS:
            raise ValueError(f"task {task.name!r}: unknown motion {task.motion!r}")
        for cue in task.cues:
            onset = cue + b.u((0.2, 0.5))  # reaction time
            if task.active is None:
                lead = Side.L if b.rng.random() < 0.5 else Side.R
                b.movement(onset, lead, task.motion, "bimanual", until=duration, task=task.name)
            else:
                kind = "mirror" if b.rng.random() < mirror_share else "unimanual"
                b.movement(
                    onset,
                    task.active,
                    task.motion,
                    kind,
                    until=duration,
                    ratio=ratio,
                    task=task.name,
                )
    return b.build()


def plan(scenario: str, duration: float | None, seed: int) -> Plan:
    """The plan of `scenario` for `duration` s (None: its default), drawn from `seed`."""
    if scenario not in _SCHEDULES:
        raise ValueError(f"unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}")
    b = _Builder(
        np.random.default_rng([seed, 0, 0, 0]),
        DEFAULT_DURATION[scenario] if duration is None else duration,
    )
    _SCHEDULES[scenario](b)
    return b.build()
