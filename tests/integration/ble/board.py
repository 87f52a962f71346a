"""What the emulated Polar and MetaWear boards share: a free-running sample grid on the
board's own oscillator, a movement signal, and the record of what was sent.

Written from the vendors' specifications only (see polar_firmware.py, metawear_firmware.py),
independently of sensors/protocols, so a decoder bug cannot hide behind a shared encoder.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

G = 9.80665
Notify = Callable[[str, bytes], None]
# host seconds (n,) -> (acc m/s^2 (n, 3), gyro rad/s (n, 3))
Signal = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def resting_wrist(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gravity on z and a slow 1 Hz rotation, as the MirrorWatch board's default."""
    phase = 2 * math.pi * t
    acc = np.stack([0.5 * np.sin(phase), 0.5 * np.cos(phase), np.full(t.shape, G)], axis=1)
    gyr = np.stack([0.3 * np.sin(phase), np.zeros(t.shape), 0.3 * np.cos(phase)], axis=1)
    return acc, gyr


def tapping(active: bool, period: float = 4.0, lag: float = 0.04) -> Signal:
    """A wrist that taps (0.6 s bursts of 3 rad/s every `period` s); the other hand copies
    at a fifth of the strength `lag` s later (mirror movements)."""

    def signal(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc, gyr = resting_wrist(t)
        u = np.mod(t - (0.0 if active else lag) - 1.0, period)
        burst = np.where(u < 0.6, np.sin(np.pi * u / 0.6) ** 2, 0.0)
        w = burst * (3.0 if active else 0.6) * np.sin(2 * np.pi * 4.0 * u)
        gyr = gyr + np.stack([w, 0.5 * w, np.zeros(t.shape)], axis=1)
        acc = acc + np.stack([2.0 * w, np.zeros(t.shape), np.zeros(t.shape)], axis=1)
        return acc, gyr

    return signal


@dataclass
class Sent:
    """Samples the board took (host seconds) and whether they went out over the air."""

    t_true: np.ndarray
    delivered: bool


@dataclass
class Board:
    """A sampling loop at `rate` Hz (the board's oscillator `drift_ppm` off), `per_packet`
    samples a notification; subclasses pack and send in `emit`."""

    clock: Callable[[], float]
    speed: float = 1.0
    drift_ppm: float = 0.0
    signal: Signal = resting_wrist
    noise: float = 0.01
    seed: int = 0
    battery: int = 77
    sent: list[Sent] = field(default_factory=list)
    _notify: Notify | None = None
    _task: asyncio.Task[None] | None = None
    _boot: float = 0.0

    def power_on(self) -> None:
        self._boot = self.clock()
        self._rng = np.random.default_rng(self.seed)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def power_off(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def link_up(self, notify: Notify) -> None:
        self._notify = notify

    def link_down(self) -> None:
        self._notify = None
        self.on_link_down()

    def on_link_down(self) -> None:
        """What the board forgets when the central goes."""

    def notify(self, uuid: str, value: bytes) -> bool:
        if self._notify is None:
            return False
        self._notify(uuid, value)
        return True

    def rate(self) -> float | None:
        """Samples per second now, None while nothing samples."""
        raise NotImplementedError

    def per_packet(self) -> int:
        raise NotImplementedError

    def emit(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> bool:
        """Send samples taken at host times `t`; whether they went out."""
        raise NotImplementedError

    async def _run(self) -> None:
        index, grid_t, rate = 0, self.clock(), None
        while True:
            now_rate = self.rate()
            if now_rate is None:
                rate = None
                await asyncio.sleep(0.01 / self.speed)
                continue
            if rate != now_rate:  # sampling (re)starts: a new grid from now
                rate, index, grid_t = now_rate, 0, self.clock()
            real = rate * (1.0 + self.drift_ppm * 1e-6)
            n = self.per_packet()
            t = grid_t + (index + np.arange(n)) / real
            await asyncio.sleep(max(0.0, (float(t[-1]) - self.clock()) / self.speed))
            if self.rate() != rate:
                continue
            acc, gyr = self.signal(t - self._boot)
            acc = acc + self._rng.normal(0.0, self.noise, acc.shape)
            gyr = gyr + self._rng.normal(0.0, self.noise / 4, gyr.shape)
            self.sent.append(Sent(t, self.emit(t, acc, gyr)))
            index += n
