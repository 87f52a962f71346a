"""Is each sensor on a wrist, and on the right one? Pure detectors over one side's samples.

Non-wear: a sensor lying on a table is stiller than any wrist at rest. A worn wrist
always carries micro-motion (physiological tremor, postural sway, pulse), so its
angular rate wanders and its orientation drifts by tenths of a degree within a
minute; a sensor on a table shows only its own white noise around a constant bias,
and gravity stays put. An epoch is *still* when both hold (orientation only for an
accelerometer-only sensor); `min_off` s of consecutive still epochs are non-wear.

Swapped wrists: both sensors are worn the same way (x towards the fingers, z out of
the back of the wrist), so one hand's movements read as the other's reflected
through the body's midplane. Flexing the fingers or the wrist turns it about an oblique
axis (the dart-thrower's axis, tilted from y towards x and z) whose x and z
components share the sign of y on the right wrist and have the opposite sign on
the left. The sign of the covariance of gy with gx + gz during movement therefore
names the wrist; both signs inverted means the sensors are on the wrong wrists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from sensors.types import FloatArray, ImuBlock, Side


@dataclass(frozen=True, slots=True)
class WearConfig:
    """Thresholds of the wear and side checks.

    `epoch` s per decision; `mean_s` s averaged before comparing (white sensor noise
    averages out, a wrist's sway does not); `sway` rad/s, rms of those means of the
    angular rate about their epoch mean, below which a wrist is too still to be worn
    (a table: ~0.0012 at 50 Hz; a resting wrist: > 0.003); `tilt` rad, largest change
    of the mean gravity direction within an epoch below which it is too still;
    `min_off` s of still epochs that make non-wear. Side check: `moving` rad/s of
    angular speed from which a sample counts as movement; epochs moving more than
    `max_moving_share` of the time are left out; `min_moving` s of movement per
    wrist before it decides; `margin` the normalised covariance each wrist must
    show, with the inverted sign.
    """

    epoch: float = 60.0
    mean_s: float = 2.0
    sway: float = 0.002
    tilt: float = 0.004
    min_off: float = 300.0
    moving: float = 0.3
    max_moving_share: float = 0.3
    min_moving: float = 20.0
    margin: float = 0.02


@dataclass(frozen=True, slots=True)
class Epoch:
    """One wrist's verdict over [start, start + length) s: `worn` and data seconds."""

    side: Side
    start: float
    length: float
    worn: bool
    valid_s: float
    activity: float  # rad/s, mean angular speed (0 without gyro)
    xy: float = 0.0  # sum of gy*(gx+gz) over moving samples, (rad/s)^2
    power: float = 0.0  # sum of |g|^2 over moving samples, (rad/s)^2
    moving_s: float = 0.0  # s of movement counted for the side check


@dataclass(frozen=True, slots=True)
class NonWear:
    """A span of `side` judged off the wrist, from `start` s; `end` None while it lasts."""

    side: Side
    start: float
    end: float | None


class WearDetector:
    """Non-wear of one wrist, epoch by epoch; `process` returns epochs as they are decided.

    Still epochs wait until their run reaches `min_off` (then all are non-wear) or is
    broken by a moving one (then all were worn).
    """

    def __init__(self, side: Side, cfg: WearConfig | None = None) -> None:
        self.side = side
        self.cfg = cfg or WearConfig()
        self._t: list[FloatArray] = []
        self._acc: list[FloatArray] = []
        self._gyr: list[FloatArray] = []
        self._start: float | None = None
        self._run: list[Epoch] = []  # still epochs not yet decided
        self._off_since: float | None = None
        self.spans: list[NonWear] = []

    def process(self, block: ImuBlock) -> list[Epoch]:
        """Take one block; return the epochs decided by it. Cheap per block: the work
        happens once per epoch, on the epoch's samples together."""
        if not len(block):
            return []
        if self._start is None:
            self._start = math.floor(float(block.t[0]) / self.cfg.epoch) * self.cfg.epoch
        out: list[Epoch] = []
        while float(block.t[-1]) >= (end := self._start + self.cfg.epoch):
            cut = int(np.searchsorted(block.t, end))
            self._keep(block.slice(0, cut))
            out += self._close()
            block = block.slice(cut, len(block))
        self._keep(block)
        return out

    def flush(self) -> list[Epoch]:
        """End of data: close the open epoch and decide a pending still run."""
        out = self._close() if self._t else []
        if self._run:
            out += self._decide_run(off=len(self._run) * self.cfg.epoch >= self.cfg.min_off)
        return out

    def _keep(self, block: ImuBlock) -> None:
        if len(block):
            self._t.append(block.t)
            self._acc.append(block.acc)
            if block.gyr is not None:
                self._gyr.append(block.gyr)

    def _close(self) -> list[Epoch]:
        assert self._start is not None
        start, cfg = self._start, self.cfg
        self._start = start + cfg.epoch
        if not self._t:
            return self._judge(Epoch(self.side, start, cfg.epoch, False, 0.0, 0.0), still=False)
        t, acc = np.concatenate(self._t), np.concatenate(self._acc)
        gyr = np.concatenate(self._gyr) if len(self._gyr) == len(self._t) else None
        self._t, self._acc, self._gyr = [], [], []
        dt = float(t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else cfg.epoch
        epoch = Epoch(self.side, start, cfg.epoch, True, min(cfg.epoch, len(t) * dt), 0.0)
        if gyr is not None:
            speed = np.linalg.norm(gyr - np.median(gyr, axis=0), axis=1)
            moving = speed > cfg.moving
            epoch = replace(epoch, activity=float(speed.mean()))
            # sustained movement (walking, long chores) swings both arms alike: left out
            if 0 < moving.mean() <= cfg.max_moving_share:
                m = gyr[moving]
                epoch = replace(
                    epoch,
                    xy=float((m[:, 1] * (m[:, 0] + m[:, 2])).sum()),
                    power=float((speed[moving] ** 2).sum()),
                    moving_s=dt * int(moving.sum()),
                )
        return self._judge(epoch, _still(t, acc, gyr, cfg))

    def _judge(self, epoch: Epoch, still: bool) -> list[Epoch]:
        if still:
            self._run.append(epoch)
            if self._off_since is not None or len(self._run) * self.cfg.epoch >= self.cfg.min_off:
                return self._decide_run(off=True)
            return []
        out = self._decide_run(off=self._off_since is not None) if self._run else []
        if self._off_since is not None:
            self.spans[-1] = NonWear(self.side, self._off_since, epoch.start)
            self._off_since = None
        return [*out, epoch]

    def _decide_run(self, off: bool) -> list[Epoch]:
        if off and self._off_since is None:
            self._off_since = self._run[0].start
            self.spans.append(NonWear(self.side, self._off_since, None))
        out = [replace(e, worn=not off) for e in self._run]
        self._run = []
        return out


def _still(t: FloatArray, acc: FloatArray, gyr: FloatArray | None, cfg: WearConfig) -> bool:
    """Whether an epoch is as still as a sensor lying on a table."""
    slot = np.floor((t - t[0]) / cfg.mean_s).astype(np.int64)
    counts = np.bincount(slot)
    full = counts > 0
    if full.sum() < 3:
        return False  # too little data to tell; counted as worn
    g = np.stack([np.bincount(slot, acc[:, i])[full] / counts[full] for i in range(3)], 1)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    tilt = float(
        np.arccos(np.clip(g @ g.mean(axis=0) / np.linalg.norm(g.mean(axis=0)), -1, 1)).max()
    )
    if tilt >= cfg.tilt:
        return False
    if gyr is None:
        return True
    w = np.stack([np.bincount(slot, gyr[:, i])[full] / counts[full] for i in range(3)], 1)
    sway = float(np.sqrt(((w - w.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return sway < cfg.sway


class SideCheck:
    """Sums each wrist's gyro covariance (gy with gx + gz) during movement over its worn epochs."""

    def __init__(self, cfg: WearConfig | None = None) -> None:
        self.cfg = cfg or WearConfig()
        self._xy = {Side.L: 0.0, Side.R: 0.0}
        self._power = {Side.L: 0.0, Side.R: 0.0}
        self._moving = {Side.L: 0.0, Side.R: 0.0}  # s

    def add(self, epoch: Epoch) -> None:
        if epoch.worn:
            self._xy[epoch.side] += epoch.xy
            self._power[epoch.side] += epoch.power
            self._moving[epoch.side] += epoch.moving_s

    def covariance(self, side: Side) -> float | None:
        """Normalised covariance of gy with gx + gz during movement, None before enough movement."""
        if self._moving[side] < self.cfg.min_moving or self._power[side] == 0:
            return None
        return self._xy[side] / self._power[side]

    def swapped(self) -> bool | None:
        """True: the sensors are on the wrong wrists; False: right ones; None: undecided."""
        cl, cr = self.covariance(Side.L), self.covariance(Side.R)
        if cl is None or cr is None:
            return None
        margin = self.cfg.margin
        if cl > margin and cr < -margin:
            return True
        if cl < -margin and cr > margin:
            return False
        return None
