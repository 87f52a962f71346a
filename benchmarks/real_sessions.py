"""Semi-synthetic sessions from real two-wrist recordings (PADS), with known ground truth.

Real rest of both wrists (seated, 20 s per subject, looped as a palindrome so the
signal stays continuous) is the background. Onto it go real movement stretches cut
from the task recordings of either wrist, each from one deep pause of the hand to
the next, so sub-movements and odd shapes stay in:

- unimanual: one stretch on the active wrist;
- mirror: the stretch on the active wrist, plus on the other wrist its mirror image
  (reflected through the sagittal plane), scaled to `ratio`, delayed by 20-120 ms and
  smoothed (a 4 Hz low-pass: an involuntary copy is slower and weaker);
- bimanual: independent stretches on both wrists, comparable peaks (0.7-1.3x), the
  second starting within +-40 ms of the first.

Variants: `recorded` (gyroscope, gravity removed as the watches export it), `gravity`
(gravity added back along each wrist's orientation, integrated from its angular
rate from a random start: real slow tilts) and `acc-only` (the same, no gyroscope).

The truth onset of a stretch is where its angular speed (zero-phase 10 Hz low-pass)
first reaches 5 % of its peak, the usual kinematic convention; the offset is where
it last is there. Ratios are measured on the injected signals: the copy's peak
angular speed over the active stretch's.

Data: `<subject>_<task>_<LeftWrist|RightWrist>.txt` files as in PADS (time s, acc g
without gravity, gyro rad/s). Subjects 001-099 are reserved for validation: nothing
here is tuned on them.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

from pipeline.engine import Engine, movements
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import MovementEvent
from sensors.scenarios import TruthMovement
from sensors.types import STANDARD_GRAVITY, FloatArray, ImuBlock, Side

FS = 100.0  # Hz, the grid every recording is resampled onto (PADS is ~100 Hz, irregular)
G = STANDARD_GRAVITY  # m/s^2 per g
# ../shared/data/pads beside the checkout, or where MIRRORWATCH_PADS_DIR says
DEFAULT_DATA = Path(
    os.environ.get(
        "MIRRORWATCH_PADS_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "pads"
    )
)
WRIST = {Side.L: "LeftWrist", Side.R: "RightWrist"}
VARIANTS = ("recorded", "gravity", "acc-only")
RATIOS = (0.05, 0.1, 0.2, 0.35)
_TRIM = 0.5  # s cut from both ends of every recording
_FILE = re.compile(r"^(\d+)_([A-Za-z]+)_LeftWrist\.txt$")


@dataclass(frozen=True, slots=True)
class Recording:
    """Both wrists of one task on the FS grid: acc m/s^2 (no gravity), gyro rad/s."""

    subject: str
    task: str
    acc: dict[Side, FloatArray]
    gyr: dict[Side, FloatArray]


@dataclass(frozen=True, slots=True)
class Stretch:
    """One real movement of one wrist, tapered to zero at both ends."""

    source: str  # subject_task_side, for reports
    acc: FloatArray  # (n, 3) m/s^2
    gyr: FloatArray  # (n, 3) rad/s
    onset: int  # rows from the stretch's start to the truth onset
    offset: int
    peak: float  # rad/s, peak angular speed


def recordings(data: Path) -> list[Recording]:
    """Every complete wrist pair in `data`, resampled onto the FS grid."""
    out = []
    for left in sorted(data.glob("*_LeftWrist.txt")):
        m = _FILE.match(left.name)
        right = left.with_name(left.name.replace("LeftWrist", "RightWrist"))
        if m is None or not right.is_file():
            continue
        acc, gyr = {}, {}
        for side, path in ((Side.L, left), (Side.R, right)):
            raw = np.loadtxt(path, delimiter=",", ndmin=2)
            t = raw[:, 0] - raw[0, 0]
            # The watches' start cue shakes most wrists for 50 ms at 0.26 s (9 of 12
            # rest recordings): the first and last half second are not the subject's.
            grid = np.arange(_TRIM, t[-1] - _TRIM, 1.0 / FS)
            cols = [np.interp(grid, t, raw[:, k]) for k in range(1, 7)]
            acc[side] = np.column_stack(cols[:3]) * G
            gyr[side] = np.column_stack(cols[3:])
        n = min(len(acc[Side.L]), len(acc[Side.R]))
        acc = {s: a[:n] for s, a in acc.items()}
        gyr = {s: g[:n] for s, g in gyr.items()}
        out.append(Recording(m.group(1), m.group(2), acc, gyr))
    return out


def speed(gyr: FloatArray, cutoff: float = 10.0) -> FloatArray:
    """Angular speed, rad/s, after a zero-phase low-pass at `cutoff` Hz."""
    sos = signal.butter(2, cutoff, fs=FS, output="sos")
    return np.asarray(np.linalg.norm(signal.sosfiltfilt(sos, gyr, axis=0), axis=1))


def stretches(rec: Recording, min_peak: float = 0.8) -> list[Stretch]:
    """Movements of each wrist of `rec`, cut between deep pauses of the hand.

    A pause is a local minimum of the 5 Hz speed that is below 10 % of the peaks on
    both sides of it (or below 0.1 rad/s); a movement runs from one pause to the
    next, 0.5-3 s, and must reach `min_peak` rad/s. Shallow minima stay inside:
    those are sub-movements.
    """
    out = []
    for side in Side:
        v = speed(rec.gyr[side], 5.0)
        minima = [int(i) for i in signal.argrelmin(v, order=5)[0]]
        pauses = []
        for k, i in enumerate(minima):
            lo = minima[k - 1] if k else 0
            hi = minima[k + 1] if k + 1 < len(minima) else len(v)
            around = min(v[lo:i].max(initial=0.0), v[i:hi].max(initial=0.0))
            if v[i] <= max(0.1 * around, 0.1):
                pauses.append(i)
        for a, b in itertools.pairwise(pauses):
            if not 0.5 * FS <= b - a <= 3.0 * FS or v[a:b].max() < min_peak:
                continue
            stretch = _cut(rec, side, a, b)
            if stretch is not None:
                out.append(stretch)
    return out


def _cut(rec: Recording, side: Side, a: int, b: int) -> Stretch | None:
    taper = np.ones(b - a)
    ramp = int(0.06 * FS)  # a short raised cosine: the hand is almost still there anyway
    edge = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ramp))
    taper[:ramp], taper[-ramp:] = edge, edge[::-1]
    acc = rec.acc[side][a:b] * taper[:, None]
    gyr = rec.gyr[side][a:b] * taper[:, None]
    v = speed(gyr)
    peak = float(v.max())
    above = np.flatnonzero(v >= 0.05 * peak)
    if above.size == 0:
        return None
    name = f"{rec.subject}_{rec.task}_{side.value}"
    return Stretch(name, acc, gyr, int(above[0]), int(above[-1]), peak)


def reflect(acc: FloatArray, gyr: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The mirror image on the other wrist: y of polar vectors, x and z of axial ones flip."""
    return acc * np.array([1.0, -1.0, 1.0]), gyr * np.array([-1.0, 1.0, -1.0])


@dataclass(frozen=True, slots=True)
class Trial:
    kind: str  # unimanual, mirror, bimanual
    side: Side  # the active hand
    ratio: float  # nominal, mirror only


@dataclass
class RealSession:
    """A session on the FS grid with its ground truth; `blocks()` feeds the engine."""

    name: str
    variant: str
    acc: dict[Side, FloatArray]
    gyr: dict[Side, FloatArray]
    truth: list[TruthMovement]

    @property
    def duration(self) -> float:
        return len(self.acc[Side.L]) / FS

    def engine_events(self, cfg: EngineConfig) -> list[MovementEvent]:
        """The online engine's movement events on this session, streamed in blocks."""
        engine = Engine(cfg)
        return movements([e for b in self.blocks() for e in engine.feed(b)] + engine.flush())

    def blocks(self, size: int = 10) -> Iterator[ImuBlock]:
        """Both wrists in blocks of `size` samples, alternating sides as packets arrive."""
        n = len(self.acc[Side.L])
        t = np.arange(n) / FS
        gyro = self.variant != "acc-only"
        for i in range(0, n, size):
            for side in Side:
                j = min(i + size, n)
                yield ImuBlock(
                    side=side,
                    t=t[i:j],
                    acc=self.acc[side][i:j],
                    gyr=self.gyr[side][i:j] if gyro else None,
                    seq=i // size,
                )


def build(
    name: str,
    rest: Recording,
    moves: list[Stretch],
    variant: str,
    seed: int,
    trials: list[Trial],
) -> RealSession:
    """Rest of `rest`'s subject on both wrists, `trials` placed on it in order."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: one of {VARIANTS}")
    rng = np.random.default_rng(seed)
    lead = 8.0  # s of rest first: the engine learns each wrist's rest level
    gaps = rng.uniform(2.0, 4.0, len(trials))
    total = lead + sum(3.0 + g for g in gaps) + 2.0
    n = int(total * FS)
    start = int(rng.integers(0, len(rest.acc[Side.L])))
    acc = {s: looped(rest.acc[s], start, n) for s in Side}
    gyr = {s: looped(rest.gyr[s], start, n) for s in Side}
    truth: list[TruthMovement] = []
    at = lead
    for trial, gap in zip(trials, gaps, strict=True):
        active = moves[int(rng.integers(len(moves)))]
        i0 = int(at * FS)
        _add(acc, gyr, trial.side, i0, active.acc, active.gyr)
        onset, offset = (i0 + active.onset) / FS, (i0 + active.offset) / FS
        ratio, lag, side = 0.0, 0.0, trial.side
        if trial.kind == "mirror":
            lag = float(rng.uniform(0.02, 0.12))
            ca, cg = mirror_copy(active, trial.ratio, lag)
            _add(acc, gyr, trial.side.other, i0, ca, cg)
            ratio = float(speed(cg).max()) / active.peak
        elif trial.kind == "bimanual":
            other = moves[int(rng.integers(len(moves)))]
            scale = float(rng.uniform(0.7, 1.3)) * active.peak / other.peak
            shift = round(rng.uniform(-0.04, 0.04) * FS) + active.onset - other.onset
            j0 = max(i0 + shift, 0)
            _add(acc, gyr, trial.side.other, j0, other.acc * scale, other.gyr * scale)
            other_onset = (j0 + other.onset) / FS
            ratio = other.peak * scale / active.peak
            lag = other_onset - onset
            if lag < 0:  # the truth's side is the hand starting first
                side, onset, lag, ratio = trial.side.other, other_onset, -lag, 1.0 / ratio
                offset = (j0 + other.offset) / FS
        truth.append(TruthMovement(onset, offset, side, trial.kind, ratio, lag, active.peak, None))
        at += len(active.acc) / FS + gap
    if variant != "recorded":
        for s in Side:
            acc[s] = acc[s] + gravity_turning(gyr[s], rng)
    return RealSession(name, variant, acc, gyr, truth)


def standard_trials(rng: np.random.Generator) -> list[Trial]:
    """Per hand: 3 unimanual, 2 mirror at each of RATIOS, 1 bimanual; shuffled."""
    trials = []
    for side in Side:
        trials += [Trial("unimanual", side, 0.0)] * 3
        trials += [Trial("mirror", side, r) for r in RATIOS for _ in range(2)]
        trials.append(Trial("bimanual", side, 0.0))
    order = rng.permutation(len(trials))
    return [trials[int(i)] for i in order]


def looped(x: FloatArray, start: int, n: int) -> FloatArray:
    """`x` played forward then backward, again and again, from row `start`, n rows."""
    cycle = np.concatenate([x, x[::-1]])
    reps = (start + n) // len(cycle) + 1
    return np.array(np.tile(cycle, (reps, 1))[start : start + n])


def _add(
    acc: dict[Side, FloatArray],
    gyr: dict[Side, FloatArray],
    side: Side,
    i0: int,
    a: FloatArray,
    g: FloatArray,
) -> None:
    m = min(len(a), len(acc[side]) - i0)
    acc[side][i0 : i0 + m] += a[:m]
    gyr[side][i0 : i0 + m] += g[:m]


def mirror_copy(s: Stretch, ratio: float, lag: float) -> tuple[FloatArray, FloatArray]:
    """The involuntary copy of `s`: reflected, smoothed, scaled to `ratio`, `lag` s late."""
    acc, gyr = reflect(s.acc, s.gyr)
    sos = signal.butter(2, 4.0, fs=FS, output="sos")
    pad = round(lag * FS)
    acc = np.vstack([np.zeros((pad, 3)), signal.sosfiltfilt(sos, acc, axis=0)])
    gyr = np.vstack([np.zeros((pad, 3)), signal.sosfiltfilt(sos, gyr, axis=0)])
    scale = ratio * s.peak / float(speed(gyr).max())
    return acc * scale, gyr * scale


def gravity_turning(gyr: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Gravity in the sensor frame of a wrist turning at `gyr` from a random resting tilt."""
    # Forearm on the lap or a table: the back of the wrist roughly up, tilted up to 40 deg.
    tilt = Rotation.from_rotvec(rng.normal(0.0, 0.35, 3)).as_quat(scalar_first=True)
    steps = Rotation.from_rotvec(gyr / FS).as_quat(scalar_first=True)
    q = np.empty((len(gyr), 4))
    w, x, y, z = (float(c) for c in tilt)
    for k, (sw, sx, sy, sz) in enumerate(steps.tolist()):  # q_k = tilt * step_0 ... step_k-1
        q[k] = (w, x, y, z)
        w, x, y, z = (
            w * sw - x * sx - y * sy - z * sz,
            w * sx + x * sw + y * sz - z * sy,
            w * sy - x * sz + y * sw + z * sx,
            w * sz + x * sy - y * sx + z * sw,
        )
    return np.asarray(Rotation.from_quat(q, scalar_first=True).inv().apply([0.0, 0.0, G]))
