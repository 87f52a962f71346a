"""The live progress line on stderr: where the session is and what it has seen."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from pipeline.engine.events import Event, Kind, MovementEvent
from sensors.types import ImuBlock, Side

_INTERVAL = 0.1  # s between redraws: fast enough to feel live, cheap at any speed


class Progress:
    """Counts movements and mirror events per hand; redraws one line when on a terminal."""

    def __init__(self, total: float | None, stream: TextIO | None = None) -> None:
        self._total = total
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._t = 0.0
        self._moves = {Side.L: 0, Side.R: 0}
        self._mirrors = {Side.L: 0, Side.R: 0}
        self._drawn = 0.0

    def block(self, block: ImuBlock) -> None:
        if len(block):
            self._t = max(self._t, float(block.t[-1]))
        self._draw()

    def event(self, event: Event) -> None:
        if isinstance(event, MovementEvent):
            self._moves[event.active] += 1
            self._mirrors[event.active] += event.kind is Kind.MIRROR
        self._draw()

    def line(self) -> str:
        share = f"{self._t / self._total:4.0%} " if self._total else ""
        sides = "  ".join(
            f"{s.value}: {self._moves[s]} moves {self._mirrors[s]} mirror" for s in Side
        )
        return f"{share}t={self._t:7.1f} s  {sides}"

    def close(self) -> None:
        if self._tty:
            self._stream.write("\r" + self.line() + "\n")
            self._stream.flush()

    def _draw(self) -> None:
        if not self._tty:
            return
        now = time.monotonic()
        if now - self._drawn >= _INTERVAL:
            self._drawn = now
            self._stream.write("\r" + self.line())
            self._stream.flush()
